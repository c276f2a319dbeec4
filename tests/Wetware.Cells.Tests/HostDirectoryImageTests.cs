using System.Diagnostics;

namespace Wetware.Cells.Tests;

/// <summary>The host-directory image on its own: what it shows, and which links it refuses to follow.</summary>
public sealed class HostDirectoryImageTests(ImageDirectory image) : IClassFixture<ImageDirectory>
{
    [Fact]
    public void RootIsADirectory() => Assert.Equal(ImageEntryKind.Directory, image.Image.GetEntry("")?.Kind);

    [Fact]
    public void FilesHaveTheirSize() => Assert.Equal(10, image.Image.GetEntry("data/numbers")?.Size);

    [Theory]
    [InlineData("link-outside")]
    [InlineData("link-outside/passwd")]
    [InlineData("link-up")]
    [InlineData("loop-a")]
    [InlineData("nothing")]
    public void LinksLeavingTheImageAndMissingPathsReadAsAbsent(string path)
    {
        Assert.Null(image.Image.GetEntry(path));
        Assert.Throws<FileNotFoundException>(() => image.Image.OpenFile(path));
    }

    [Fact]
    public void LinksInsideAreFollowed()
    {
        Assert.Equal(ImageEntryKind.File, image.Image.GetEntry("link-inside")?.Kind);
        Assert.Equal(ImageEntryKind.Directory, image.Image.GetEntry("dir-link")?.Kind);
        using IImageFile file = image.Image.OpenFile("abs-inside");
        var buffer = new byte[64];
        int n = file.Read(0, buffer);
        Assert.Equal(ImageDirectory.Motd, System.Text.Encoding.UTF8.GetString(buffer, 0, n));
    }

    [Fact]
    public void PositionalReadsPastTheEndGiveNothing()
    {
        using IImageFile file = image.Image.OpenFile("data/numbers");
        var buffer = new byte[4];
        Assert.Equal(4, file.Read(6, buffer));
        Assert.Equal(0, file.Read(10, buffer));
        Assert.Equal(0, file.Read(1000, buffer));
    }

    [Fact]
    public void DirectoriesCannotBeOpenedAsFiles() =>
        Assert.Throws<FileNotFoundException>(() => image.Image.OpenFile("etc"));

    [Fact]
    public async Task AFifoIsNotOpenedAndDoesNotBlock()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ww-fifo-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            using (Process mkfifo = Process.Start("mkfifo", [Path.Combine(dir, "fifo")]))
            {
                mkfifo.WaitForExit();
            }
            var fifoImage = new HostDirectoryImage(dir);
            // A plain open(2) of a FIFO would wait here for a writer that never comes.
            Task open = Task.Run(() => Assert.Throws<FileNotFoundException>(() => fifoImage.OpenFile("fifo")));
            await open.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AMissingDirectoryIsRefused() =>
        Assert.Throws<DirectoryNotFoundException>(() => new HostDirectoryImage("/no/such/directory/anywhere"));
}
