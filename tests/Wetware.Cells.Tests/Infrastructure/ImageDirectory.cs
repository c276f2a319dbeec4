namespace Wetware.Cells.Tests;

/// <summary>
/// A small image on disk for the file-system tests, with symbolic links that stay inside it and some that
/// try to leave it:
/// <code>
/// boot/main.wasm      etc/motd            data/numbers ("0123456789")   data/empty
/// link-inside -> etc/motd    dir-link -> etc    link-outside -> /etc    link-up -> ../..
/// loop-a -> loop-b -> loop-a    abs-inside -> ROOT/etc/motd
/// big/ (300 files with long names: more than one fd_readdir buffer)
/// </code>
/// </summary>
public sealed class ImageDirectory : IDisposable
{
    public const string Motd = "hello from the image\n";

    public ImageDirectory()
    {
        Root = Path.Combine(Path.GetTempPath(), "ww-image-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(Root, "boot"));
        Directory.CreateDirectory(Path.Combine(Root, "etc"));
        Directory.CreateDirectory(Path.Combine(Root, "data"));
        File.WriteAllBytes(Path.Combine(Root, "boot/main.wasm"), [0, 0x61, 0x73, 0x6d]);
        File.WriteAllText(Path.Combine(Root, "etc/motd"), Motd);
        File.WriteAllText(Path.Combine(Root, "data/numbers"), "0123456789");
        File.WriteAllText(Path.Combine(Root, "data/empty"), "");
        Directory.CreateDirectory(Path.Combine(Root, "big"));
        for (int i = 0; i < BigEntries; i++)
        {
            File.WriteAllText(Path.Combine(Root, "big", BigName(i)), "");
        }
        File.CreateSymbolicLink(Path.Combine(Root, "link-inside"), "etc/motd");
        Directory.CreateSymbolicLink(Path.Combine(Root, "dir-link"), "etc");
        Directory.CreateSymbolicLink(Path.Combine(Root, "link-outside"), "/etc");
        Directory.CreateSymbolicLink(Path.Combine(Root, "link-up"), "../..");
        File.CreateSymbolicLink(Path.Combine(Root, "loop-a"), "loop-b");
        File.CreateSymbolicLink(Path.Combine(Root, "loop-b"), "loop-a");
        File.CreateSymbolicLink(Path.Combine(Root, "abs-inside"), Path.Combine(Root, "etc/motd"));
        Image = new HostDirectoryImage(Root);
    }

    public const int BigEntries = 300;

    public static string BigName(int i) => $"entry-{i:D4}-" + new string('x', 60);

    public string Root { get; }

    internal HostDirectoryImage Image { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
