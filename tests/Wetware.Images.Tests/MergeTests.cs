namespace Wetware.Images.Tests;

public sealed class MergeTests : IDisposable
{
    private readonly Scratch _s = new();
    private static readonly ImageOptions None = new();

    public void Dispose() => _s.Dispose();

    private static string Read(MergedImage image, string path)
    {
        using var r = new StreamReader(image.OpenRead(path));
        return r.ReadToEnd();
    }

    [Fact]
    public async Task LaterLayersWinPerFileAndDirectoriesMerge()
    {
        string a = _s.File("a", "bin/ls", "ls from a");
        _s.File("a", "etc/motd", "motd from a");
        string b = _s.File("b", "bin/ls", "ls from b");
        _s.File("b", "bin/cat", "cat from b");
        MergedImage image = await ImageLayers.MergeAsync([a, b], None);

        Assert.Equal("ls from b", Read(image, "/bin/ls"));
        Assert.Equal("cat from b", Read(image, "bin/cat"));
        Assert.Equal("motd from a", Read(image, "/etc/motd"));
        Assert.Equal(["/bin/cat", "/bin/ls"], image.List("/bin").Select(e => e.Path));
        Assert.True(image.TryGet("/bin/ls", out ImageEntry ls));
        Assert.Equal(b, ls.Layer);
        Assert.Equal("ls from b".Length, ls.Length);
        Assert.True(image.TryGet("/etc", out ImageEntry etc) && etc.IsDirectory);
    }

    [Fact]
    public async Task AFileWhereAnotherLayerHasADirectoryNamesBothLayers()
    {
        string a = _s.File("a", "lib", "a file");
        string b = _s.File("b", "lib/x.so", "in a directory");
        var e = await Assert.ThrowsAsync<ImageException>(() => ImageLayers.MergeAsync([a, b], None));
        Assert.Contains("'/lib'", e.Message);
        Assert.Contains($"file in layer '{a}'", e.Message);
        Assert.Contains($"directory in layer '{b}'", e.Message);

        // The other way round too.
        e = await Assert.ThrowsAsync<ImageException>(() => ImageLayers.MergeAsync([b, a], None));
        Assert.Contains($"file in layer '{a}'", e.Message);
        Assert.Contains($"directory in layer '{b}'", e.Message);
    }

    [Fact]
    public async Task MountsPlaceAFileOrATreeAtTheirTarget()
    {
        string a = _s.File("a", "boot/main.wasm", "kernel");
        _s.File("tools", "hello.wasm", "hello");
        string tree = _s.File("tree", "x/y.txt", "deep");
        MergedImage image = await ImageLayers.MergeAsync(
            [a, Path.Join(_s.Root, "tools", "hello.wasm") + ":/bin/hello", tree + ":/opt/pkg"], None);
        Assert.Equal("hello", Read(image, "/bin/hello"));
        Assert.Equal("deep", Read(image, "/opt/pkg/x/y.txt"));
        Assert.True(image.TryGet("/opt", out ImageEntry opt) && opt.IsDirectory);
        Assert.Equal("kernel", Read(image, "/boot/main.wasm"));
    }

    [Fact]
    public async Task TheNodeKeyIsNeverInTheImage()
    {
        string a = _s.File("a", "etc/identity", "secret key");
        _s.File("a", "etc/hosts", "hosts");
        string b = _s.File("b", "key", "another secret");
        MergedImage image = await ImageLayers.MergeAsync([a, Path.Join(b, "key") + ":/etc/identity"], None);
        Assert.False(image.TryGet("/etc/identity", out _));
        Assert.Equal(["/etc/hosts"], image.List("/etc").Select(e => e.Path));
        Assert.Throws<FileNotFoundException>(() => image.OpenRead("/etc/identity"));
    }

    [Fact]
    public async Task MissingLayersAndUnavailableKindsAreClearErrors()
    {
        var e = await Assert.ThrowsAsync<ImageException>(() => ImageLayers.MergeAsync([Path.Join(_s.Root, "nope")], None));
        Assert.Contains("does not exist", e.Message);
        Assert.Contains("nope", e.Message);

        e = await Assert.ThrowsAsync<ImageException>(() => ImageLayers.MergeAsync(["/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"], None));
        Assert.Contains("IPFS", e.Message);

        e = await Assert.ThrowsAsync<ImageException>(() => ImageLayers.MergeAsync(["@std"], None));
        Assert.Contains("standard image", e.Message);

        string file = _s.File("f", "only.txt", "x");
        e = await Assert.ThrowsAsync<ImageException>(() => ImageLayers.MergeAsync([Path.Join(file, "only.txt")], None));
        Assert.Contains("only a mount", e.Message);
    }

    [Fact]
    public async Task LinksAreFollowedOnlyToFilesInsideTheLayer()
    {
        string outside = _s.File("outside", "secret.txt", "host file");
        string a = _s.File("a", "real.txt", "inside");
        File.CreateSymbolicLink(Path.Join(a, "inner-link"), Path.Join(a, "real.txt"));
        File.CreateSymbolicLink(Path.Join(a, "escape"), Path.Join(outside, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Join(a, "dirlink"), outside);
        MergedImage image = await ImageLayers.MergeAsync([a], None);
        Assert.Equal("inside", Read(image, "/inner-link"));
        Assert.False(image.TryGet("/escape", out _));
        Assert.False(image.TryGet("/dirlink", out _));
        Assert.False(image.TryGet("/dirlink/secret.txt", out _));
    }

    [Fact]
    public async Task TheMergeIsAnIndexFilesAreReadOnDemand()
    {
        string a = _s.File("a", "f.txt", "before");
        MergedImage image = await ImageLayers.MergeAsync([a], None);
        File.WriteAllText(Path.Join(a, "f.txt"), "after"); // the image holds no copy
        Assert.Equal("after", Read(image, "/f.txt"));
    }

    [Fact]
    public async Task PathsThatLeaveTheRootAreNotFound()
    {
        string a = _s.File("a", "f.txt", "x");
        MergedImage image = await ImageLayers.MergeAsync([a], None);
        Assert.False(image.TryGet("/../../etc/passwd", out _));
        Assert.Throws<ImageException>(() => image.OpenRead("/../f.txt"));
    }
}
