namespace Wetware.Cells.Tests;

/// <summary>argv, environment, stdout/stderr and exit codes, seen from a C guest (hello.c).</summary>
public sealed class ProgramTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private readonly CellEngine _engine = fixture.Engine;

    [Fact]
    public async Task GuestSeesItsArgvAndNothingElse()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "hello", new CellOptions { Args = ["/boot/main.wasm", "one", "two words", "ünï"] });

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(CellExitReason.Exited, run.Result.Reason);
        Assert.Equal("argc=4\nargv[0]=/boot/main.wasm\nargv[1]=one\nargv[2]=two words\nargv[3]=ünï\n", run.Stdout);
    }

    [Fact]
    public async Task GuestSeesExactlyTheEnvironmentItIsGiven()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "hello", new CellOptions
        {
            Env = new Dictionary<string, string> { ["PATH"] = "/bin", ["WW_TTY"] = "1" },
        });

        Assert.Contains("env PATH=/bin\n", run.Stdout);
        Assert.Contains("env WW_TTY=1\n", run.Stdout);
        Assert.Equal(2, run.Stdout.Split('\n').Count(l => l.StartsWith("env ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task StderrIsSeparateFromStdout()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "hello");

        Assert.Equal("hello on stderr\n", run.Stderr);
        Assert.DoesNotContain("stderr", run.Stdout);
    }

    [Fact]
    public async Task ProcExitCodeIsTheExitCode()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "hello", new CellOptions { Env = new Dictionary<string, string> { ["EXIT_CODE"] = "42" } });

        Assert.Equal(42, run.ExitCode);
        Assert.Equal(CellExitReason.Exited, run.Result.Reason);
        // exit() flushes stdio before proc_exit: the output is all there.
        Assert.StartsWith("argc=1\n", run.Stdout);
    }

    [Fact]
    public async Task NonZeroReturnFromMainIsTheExitCode()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "hello", new CellOptions { Env = new Dictionary<string, string> { ["RETURN_CODE"] = "3" } });

        Assert.Equal(3, run.ExitCode);
    }

    [Fact]
    public async Task ReturningFromStartIsExitCodeZero()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "hello");

        Assert.Equal(new CellResult(0, CellExitReason.Exited), run.Result);
    }

    [Theory]
    [InlineData(false, "000")]
    [InlineData(true, "111")]
    public async Task StdioIsATerminalOnlyWhenSaidSo(bool terminal, string isatty)
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "hello", new CellOptions
        {
            Env = new Dictionary<string, string> { ["SHOW_TTY"] = "1" },
            Terminal = terminal,
        });

        Assert.Equal(isatty, run.Values()["isatty"]);
    }

    [Fact]
    public async Task CancelingAStartKillsTheCellItWasStarting()
    {
        using var cts = new CancellationTokenSource();
        Task<Cell> start = _engine.StartAsync(Guests.Bytes("spin"), new CellOptions { Args = ["spin"] }, cts.Token);
        cts.Cancel();

        try
        {
            Cell cell = await start;
            // Started before the cancellation landed: it is ours to end.
            cell.Kill();
            Assert.Equal(137, (await cell.Completion).ExitCode);
        }
        catch (OperationCanceledException)
        {
            // Nothing to check from outside but that the engine still runs guests.
        }
        Assert.Equal(0, (await GuestRun.RunAsync(_engine, "hello")).ExitCode);
    }

    [Fact]
    public async Task ClocksSleepsRandomnessAndYield()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "clocks");

        Assert.Equal(0, run.ExitCode);
        Dictionary<string, string> v = run.Values();
        Assert.InRange(long.Parse(v["realtime"]), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.InRange(long.Parse(v["monotonic-res-ns"]), 1, 1_000_000);
        // Sleeps never end early (upper bounds would only measure this machine's load).
        Assert.True(long.Parse(v["relative-sleep-ms"]) >= 20, v["relative-sleep-ms"]);
        Assert.True(long.Parse(v["absolute-sleep-ms"]) >= 29, v["absolute-sleep-ms"]);
        Assert.Equal(32, v["random"].Length);
        Assert.NotEqual(v["random"], v["random2"]);
        Assert.Equal("0", v["sched_yield"]);
    }
}
