namespace Wetware.Cells.Tests;

/// <summary>
/// Cells' threads: a guest has a thread to itself while it runs, and a thread whose guest ended runs a later
/// one instead of exiting (creating threads cost most of a short guest's start, bench/cells.sh).
/// </summary>
public sealed class CellThreadsTests
{
    private const int StackBytes = 256 * 1024;

    [Fact]
    public async Task WorkHandedOutOneAfterAnotherRunsOnTheSameThread()
    {
        using var threads = new CellThreads(StackBytes);
        var ids = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            threads.Run(() => done.SetResult(Environment.CurrentManagedThreadId), "test");
            ids.Add(await done.Task);
            await WaitUntil(() => threads.IdleCount == 1);
        }

        Assert.Single(ids.Distinct());
        Assert.Equal(1, threads.Count);
    }

    [Fact]
    public async Task WorkHandedOutWhileEveryThreadIsBusyGetsANewThread()
    {
        using var threads = new CellThreads(StackBytes);
        using var release = new ManualResetEventSlim();
        var ids = new List<Task<int>>();
        for (int i = 0; i < 8; i++)
        {
            var started = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            threads.Run(() =>
            {
                started.SetResult(Environment.CurrentManagedThreadId);
                release.Wait();
            }, "test");
            ids.Add(started.Task);
        }

        int[] all = await Task.WhenAll(ids);
        release.Set();

        Assert.Equal(8, all.Distinct().Count());
        await WaitUntil(() => threads.IdleCount == 8);
        Assert.Equal(8, threads.Count);
    }

    [Fact]
    public async Task AThreadIdleForTheTimeoutExits()
    {
        using var threads = new CellThreads(StackBytes, idleTimeout: TimeSpan.FromMilliseconds(50));
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        threads.Run(done.SetResult, "test");
        await done.Task;

        await WaitUntil(() => threads.Count == 0);

        Assert.Equal(0, threads.IdleCount);
        var again = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        threads.Run(again.SetResult, "test");
        await again.Task;
    }

    [Fact]
    public async Task DisposingEndsTheIdleThreads()
    {
        var threads = new CellThreads(StackBytes);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        threads.Run(done.SetResult, "test");
        await done.Task;
        await WaitUntil(() => threads.IdleCount == 1);

        threads.Dispose();

        await WaitUntil(() => threads.Count == 0);
        Assert.Throws<ObjectDisposedException>(() => threads.Run(() => { }, "test"));
    }

    [Fact]
    public async Task GuestsRunOneAfterAnotherReuseTheirThreads()
    {
        using var engine = new CellEngine(new CellEngineOptions { Cache = new ModuleCache(Guests.CacheDirectory) });
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(0, (await GuestRun.RunAsync(engine, "hello")).ExitCode);
        }

        // A start may come before the last guest's thread is back among the idle ones: allow a few.
        Assert.InRange(engine.Threads.Count, 1, 4);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the condition");
            await Task.Delay(1);
        }
    }
}
