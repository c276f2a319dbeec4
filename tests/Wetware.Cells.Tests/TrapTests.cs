using Microsoft.Extensions.Logging;

namespace Wetware.Cells.Tests;

/// <summary>Traps end the guest with 134 and a logged message and backtrace; the host goes on.</summary>
public sealed class TrapTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Theory]
    [InlineData("unreachable", "unreachable")]
    [InlineData("oob", "out of bounds")]
    [InlineData("stack", "call stack exhausted")]
    [InlineData("div0", "divide by zero")]
    public async Task ATrapIsExitCode134WithItsMessageAndBacktrace(string mode, string message)
    {
        GuestRun run = await GuestRun.RunAsync(fixture.Engine, "trap", new CellOptions { Name = "trap-" + mode, Args = ["trap", mode] });

        Assert.Equal(134, run.ExitCode);
        Assert.Equal(CellExitReason.Trapped, run.Result.Reason);
        Assert.Equal($"about to trap: {mode}\n", run.Stdout);
        Assert.NotNull(run.Result.Trap);
        Assert.True(run.Result.Trap.Contains(message, StringComparison.OrdinalIgnoreCase), run.Result.Trap);
        Assert.Contains("wasm backtrace", run.Result.Trap);
        Assert.Contains(fixture.Logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("trap-" + mode, StringComparison.Ordinal) && e.Message.Contains(message, StringComparison.OrdinalIgnoreCase));

        // The host is unharmed: the next guest runs normally.
        Assert.Equal(0, (await GuestRun.RunAsync(fixture.Engine, "hello")).ExitCode);
    }

    [Fact]
    public async Task AStackOverflowReportStaysShort()
    {
        GuestRun run = await GuestRun.RunAsync(fixture.Engine, "trap", new CellOptions { Args = ["trap", "stack"] });

        Assert.Equal(134, run.ExitCode);
        Assert.True(run.Result.Trap!.Length < 8192, $"{run.Result.Trap.Length} characters");
    }

    [Fact]
    public async Task WithWasmDebugTheBacktraceNamesSourceLines()
    {
        using var engine = new CellEngine(new CellEngineOptions { WasmDebug = true, Cache = new ModuleCache(Guests.CacheDirectory) });

        GuestRun run = await GuestRun.RunAsync(engine, "trap-debug", new CellOptions { Args = ["trap", "unreachable"] });

        Assert.Equal(134, run.ExitCode);
        Assert.Contains("do_unreachable", run.Result.Trap);
        Assert.True(run.Result.Trap!.Contains("trap.c:", StringComparison.Ordinal), run.Result.Trap);
    }
}
