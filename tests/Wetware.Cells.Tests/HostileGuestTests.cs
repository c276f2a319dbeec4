namespace Wetware.Cells.Tests;

/// <summary>
/// A guest that passes bad pointers, lengths and descriptors straight to the host (hostile.c): each call
/// answers an errno, the guest goes on, and so does the host.
/// </summary>
public sealed class HostileGuestTests(EngineFixture fixture, ImageDirectory image) : IClassFixture<EngineFixture>, IClassFixture<ImageDirectory>
{
    // preview1 errno values.
    private const string Badf = "8", Fault = "21", Ilseq = "25", Inval = "28", Nametoolong = "37", Nosys = "52", Notdir = "54", Notsup = "58";

    public static TheoryData<string, string> Expected => new()
    {
        { "fd_write-bad-iovs", Fault },
        { "fd_write-bad-buffer", Fault },
        { "fd_write-huge-length", Fault },
        { "fd_write-bad-result", Fault },
        { "fd_write-too-many-iovs", Inval },
        { "fd_read-bad-iovs", Fault },
        { "fd_read-bad-buffer", Fault },
        { "fd_pread-bad-buffer", Fault },
        { "fd_seek-bad-result", "70" }, // ESPIPE: stdout cannot seek, whatever the pointer
        { "fd_fdstat_get-bad", Fault },
        { "fd_filestat_get-bad", Fault },
        { "fd_prestat_get-bad", Fault },
        { "fd_prestat_dir_name-bad", Fault },
        { "fd_readdir-bad", Fault },
        { "args_sizes_get-bad", Fault },
        { "args_get-bad", Fault },
        { "environ_get-bad", Fault },
        { "clock_time_get-bad", Fault },
        { "clock_time_get-bad-clock", Inval },
        { "random_get-bad", Fault },
        { "random_get-huge", Fault },
        { "path_open-bad-path", Fault },
        { "path_open-long-path", Nametoolong },
        { "path_open-bad-result", Fault },
        { "path_open-bad-utf8", Ilseq },
        { "path_filestat_get-bad", Fault },
        { "poll_oneoff-bad-in", Fault },
        { "poll_oneoff-bad-out", Fault },
        { "poll_oneoff-none", Inval },
        { "fd_write-fd5", Badf },
        { "fd_read-fd100", Badf },
        { "fd_close-minus1", Badf },
        { "fd_prestat_get-fd4", Badf },
        { "fd_prestat_get-fd100", Badf },
        { "path_open-on-stdout", Notdir },
        { "fd_renumber", Nosys },
        { "sock_accept", Notsup },
        { "sock_recv", Notsup },
        { "proc_raise", Notsup },
    };

    [Theory]
    [MemberData(nameof(Expected))]
    public async Task EachBadCallAnswersItsErrno(string call, string errno)
    {
        GuestRun run = await Run();

        Assert.Equal((call, errno), (call, run.Values()[call]));
    }

    [Fact]
    public async Task TheGuestCarriesOnAndExitsNormally()
    {
        GuestRun run = await Run();

        Assert.Equal(0, run.ExitCode);
        Assert.EndsWith("alive\n", run.Stdout);
        Assert.Equal(Expected.Count, run.Values().Count);
    }

    private Task<GuestRun> Run() =>
        GuestRun.RunAsync(fixture.Engine, "hostile", new CellOptions { Args = ["hostile"], Image = image.Image }, stdin: "");
}
