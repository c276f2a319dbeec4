namespace Wetware.Cells.Tests;

/// <summary>fd 3, the read-only image root, through wasi-libc's POSIX calls (files.c).</summary>
public sealed class ImageRootTests(EngineFixture fixture, ImageDirectory image) : IClassFixture<EngineFixture>, IClassFixture<ImageDirectory>
{
    private Task<GuestRun> Files(params string[] args) =>
        GuestRun.RunAsync(fixture.Engine, "files", new CellOptions { Args = ["files", .. args], Image = image.Image });

    [Fact]
    public async Task ReaddirListsTheRootWithDotEntriesAndWithoutLinksThatLeaveIt()
    {
        GuestRun run = await Files("ls", "/");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(
            "d .\nd ..\nf abs-inside\nd big\nd boot\nd data\nd dir-link\nd etc\nf link-inside\n",
            run.Stdout);
    }

    [Fact]
    public async Task ReaddirOfASubdirectory()
    {
        GuestRun run = await Files("ls", "/data");

        Assert.Equal("d .\nd ..\nf empty\nf numbers\n", run.Stdout);
    }

    [Fact]
    public async Task ReaddirOfADirectoryLargerThanOneBufferListsEveryEntryOnce()
    {
        GuestRun run = await Files("ls", "/big");

        string[] expected = ["d .", "d ..", .. Enumerable.Range(0, ImageDirectory.BigEntries).Select(i => "f " + ImageDirectory.BigName(i))];
        Assert.Equal(expected, run.Stdout.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task ReadsAFileByAbsoluteAndRelativePath()
    {
        Assert.Equal(ImageDirectory.Motd, (await Files("cat", "/etc/motd")).Stdout);
        Assert.Equal(ImageDirectory.Motd, (await Files("cat", "etc/motd")).Stdout);
        Assert.Equal(ImageDirectory.Motd, (await Files("cat", "/data/../etc/./motd")).Stdout);
    }

    [Fact]
    public async Task LinksInsideTheImageAreFollowed()
    {
        Assert.Equal(ImageDirectory.Motd, (await Files("cat", "/link-inside")).Stdout);
        Assert.Equal(ImageDirectory.Motd, (await Files("cat", "/dir-link/motd")).Stdout);
        Assert.Equal(ImageDirectory.Motd, (await Files("cat", "/abs-inside")).Stdout);
    }

    [Fact]
    public async Task StatGivesSizeAndType()
    {
        Assert.Equal("file size=10\n", (await Files("stat", "/data/numbers")).Stdout);
        Assert.Equal("file size=0\n", (await Files("stat", "/data/empty")).Stdout);
        Assert.Equal("dir\n", (await Files("stat", "/etc")).Stdout);
        Assert.Equal("dir\n", (await Files("stat", "/")).Stdout);
        Assert.Equal("stat=ENOENT\n", (await Files("stat", "/nothing")).Stdout);
    }

    [Fact]
    public async Task SeekTellAndPreadWorkAsPosixSays()
    {
        GuestRun run = await Files("seek", "/data/numbers");

        Dictionary<string, string> v = run.Values();
        Assert.Equal("2", v["set"]);
        Assert.Equal("234", v["read"]);
        Assert.Equal("5", v["tell"]);
        Assert.Equal("8", v["end"]);
        Assert.Equal("89", v["tail"]);
        Assert.Equal("0", v["eof"]);
        Assert.Equal("1234", v["pread"]);
        Assert.Equal("10", v["after-pread"]);
        Assert.Equal("-1 EINVAL", v["negative"]);
        Assert.Equal("10", v["fstat size"]);
    }

    [Fact]
    public async Task EveryWayOfChangingTheImageFails()
    {
        GuestRun run = await Files("write", "/etc/motd");

        Assert.Equal(0, run.ExitCode);
        Dictionary<string, string> v = run.Values();
        foreach (string open in (string[])["open-wronly", "open-rdwr", "open-append", "open-trunc", "create", "create-excl"])
        {
            Assert.Equal((open, "EROFS"), (open, v[open]));
        }
        foreach (string change in (string[])["unlink", "mkdir", "rmdir", "rename", "symlink", "link"])
        {
            Assert.Equal((change, "EROFS"), (change, v[change]));
        }
        Assert.Equal("EBADF", v["write-readonly-fd"]);
        Assert.Equal("EBADF", v["ftruncate"]);
        Assert.Equal("EBADF", v["write-dirfd"]);
        Assert.Equal("EBADF", v["write-stdin"]);
        Assert.Equal(ImageDirectory.Motd, File.ReadAllText(Path.Combine(image.Root, "etc/motd")));
        Assert.False(File.Exists(Path.Combine(image.Root, "new-file")));
    }

    [Theory]
    [InlineData("../../../../../../etc/passwd")]
    [InlineData("/../../etc/passwd")]
    [InlineData("/etc/../../../etc/passwd")]
    [InlineData("/link-outside/passwd")]
    [InlineData("/link-up/etc/passwd")]
    [InlineData("/loop-a")]
    [InlineData("/proc/self/environ")]
    public async Task PathsOutOfTheImageAreNotFound(string path)
    {
        GuestRun run = await Files("open", path);

        Assert.Equal("ENOENT\n", run.Stdout);
    }

    [Fact]
    public async Task DotDotStopsAtTheRoot()
    {
        // ".." above "/" stays at "/": the image's own /etc/motd is what this names.
        GuestRun run = await Files("cat", "../../../../etc/motd");

        Assert.Equal(ImageDirectory.Motd, run.Stdout);
    }

    [Fact]
    public async Task ReadingADirectoryIsEisdirAndOpeningAFileAsDirectoryIsEnotdir()
    {
        Assert.Equal("read=EISDIR\n", (await Files("cat", "/etc")).Stdout);
        Assert.Equal("opendir=ENOTDIR\n", (await Files("ls", "/etc/motd")).Stdout);
    }

    [Fact]
    public async Task WithoutAnImageThereIsNoFileSystem()
    {
        GuestRun run = await GuestRun.RunAsync(fixture.Engine, "files", new CellOptions { Args = ["files", "open", "/etc/motd"] });

        Assert.NotEqual("OK\n", run.Stdout);
    }
}
