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
}
