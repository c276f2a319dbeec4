using System.Diagnostics;
using System.IO.Pipelines;
using Xunit.Abstractions;

namespace Wetware.Cells.Tests;

[CollectionDefinition(nameof(KillTests), DisableParallelization = true)]
public sealed class KillTestsCollection;

/// <summary>
/// Kill, timeout and cancellation end a guest with 137 wherever it is: computing in a loop that never calls
/// the host, or waiting in a host call. The latency bound is guest-abi.md's 50 ms from <see cref="Cell.Kill"/>
/// to <see cref="Cell.Completion"/>, is a speed goal: bench/cells.sh measures it (section d). These tests check
/// that every kill lands and ends the guest with 137, each within a second even on a busy machine (this
/// collection runs alone; the kill path is warmed up once first), and print the latencies they saw.
/// Typical values after warm-up: under 3 ms.
/// </summary>
[Collection(nameof(KillTests))]
public sealed class KillTests(EngineFixture fixture, ITestOutputHelper output) : IClassFixture<EngineFixture>
{
    private const int Runs = 5;
    private static readonly TimeSpan WorstKillBound = TimeSpan.FromMilliseconds(1000);

    [Fact]
    public async Task AnEndlessLoopIsKilledWithin50Milliseconds()
    {
        await MeasureKills("spinning", async () =>
        {
            var stdout = new Pipe();
            Cell cell = await fixture.Engine.StartAsync(Guests.Bytes("spin"), new CellOptions { Args = ["spin"], Stdout = stdout.Writer });
            await PipeText.ReadUntilAsync(stdout.Reader, "spinning\n");
            await Task.Delay(20);
            return cell;
        }, CellExitReason.Killed);
    }

    [Fact]
    public async Task AGuestBlockedReadingStdinIsKilledWithin50Milliseconds()
    {
        await MeasureKills("blocked in fd_read", async () =>
        {
            Cell cell = await fixture.Engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat"], Stdin = new Pipe().Reader });
            await Task.Delay(30);
            return cell;
        }, CellExitReason.Killed);
    }

    [Fact]
    public async Task AGuestWaitingInPollIsKilledWithin50Milliseconds()
    {
        await MeasureKills("waiting in poll_oneoff", async () =>
        {
            Cell cell = await fixture.Engine.StartAsync(Guests.Bytes("echo4"), new CellOptions { Args = ["echo4", "100000"] });
            await Task.Delay(30);
            return cell;
        }, CellExitReason.Killed);
    }

    [Fact]
    public async Task AGuestBlockedOnAFullStdoutIsKilledWithin50Milliseconds()
    {
        await MeasureKills("blocked in fd_write", async () =>
        {
            var stdin = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
            await stdin.Writer.WriteAsync(new byte[1 << 20]);
            var stdout = new Pipe(new PipeOptions(pauseWriterThreshold: 1024, resumeWriterThreshold: 512));
            Cell cell = await fixture.Engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat"], Stdin = stdin.Reader, Stdout = stdout.Writer });
            await Task.Delay(30);
            Assert.False(cell.Completion.IsCompleted);
            return cell;
        }, CellExitReason.Killed);
    }

    [Fact]
    public async Task ATimeoutKillsTheGuestWith137()
    {
        CellResult result = await fixture.Engine.RunAsync(Guests.Bytes("spin"), new CellOptions { Args = ["spin"], Timeout = TimeSpan.FromMilliseconds(100) })
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(new CellResult(137, CellExitReason.TimedOut), result);
    }

    [Fact]
    public async Task CancelingARunKillsTheGuest()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        CellResult result = await fixture.Engine.RunAsync(Guests.Bytes("spin"), new CellOptions { Args = ["spin"] }, cts.Token)
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(new CellResult(137, CellExitReason.Killed), result);
    }

    [Fact]
    public async Task KillingTwiceOrAfterTheEndIsHarmless()
    {
        Cell cell = await fixture.Engine.StartAsync(Guests.Bytes("hello"), new CellOptions());
        CellResult result = await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30));

        cell.Kill();
        cell.Kill();

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(result, await cell.Completion);
    }

    [Fact]
    public async Task DisposingTheEngineKillsWhatRuns()
    {
        var engine = new CellEngine(new CellEngineOptions { Cache = new ModuleCache(Guests.CacheDirectory) });
        Cell spinning = await engine.StartAsync(Guests.Bytes("spin"), new CellOptions { Args = ["spin"] });
        Cell reading = await engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat"], Stdin = new Pipe().Reader });

        engine.Dispose();

        Assert.Equal(137, (await spinning.Completion.WaitAsync(TimeSpan.FromSeconds(10))).ExitCode);
        Assert.Equal(137, (await reading.Completion.WaitAsync(TimeSpan.FromSeconds(10))).ExitCode);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => engine.StartAsync(Guests.Bytes("hello"), new CellOptions()));
    }

    private async Task MeasureKills(string what, Func<Task<Cell>> start, CellExitReason reason)
    {
        await WarmUp();
        var latencies = new List<TimeSpan>();
        for (int i = 0; i < Runs; i++)
        {
            Cell cell = await start();
            long t0 = Stopwatch.GetTimestamp();
            cell.Kill();
            CellResult result = await cell.Completion.WaitAsync(TimeSpan.FromSeconds(10));
            latencies.Add(Stopwatch.GetElapsedTime(t0));
            Assert.Equal(new CellResult(137, reason), result);
        }
        latencies.Sort();
        TimeSpan median = latencies[Runs / 2];
        string all = string.Join(", ", latencies.Select(l => l.TotalMilliseconds.ToString("F2")));
        output.WriteLine($"kill {what}: median {median.TotalMilliseconds:F2} ms (all: {all})");
        // The 50 ms figure is measured by bench/cells.sh (section d), side by side with nothing else running;
        // here, on a machine that may be busy, a kill must land, and well within a second.
        Assert.True(latencies[^1] < WorstKillBound, $"kill {what}: worst {latencies[^1].TotalMilliseconds:F1} ms (all: {all})");
    }

    /// <summary>One kill of each kind, unmeasured, so JIT compilation is not counted as kill latency.</summary>
    private async Task WarmUp()
    {
        Cell loop = await fixture.Engine.StartAsync(Guests.Bytes("spin"), new CellOptions { Args = ["spin"] });
        Cell read = await fixture.Engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat"], Stdin = new Pipe().Reader });
        await Task.Delay(20);
        loop.Kill();
        read.Kill();
        await Task.WhenAll(loop.Completion, read.Completion).WaitAsync(TimeSpan.FromSeconds(10));
    }
}
