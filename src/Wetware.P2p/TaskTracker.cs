using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Wetware.P2p;

/// <summary>
/// Starts the node's background work and counts what still runs, so a test can prove that connections, streams and
/// handshakes leave nothing behind, and the node can wait for all of it when it shuts down. Failures are logged at
/// debug level (the owner reports the reason that matters) and stay observed.
/// </summary>
internal sealed class TaskTracker(ILogger logger)
{
    private readonly ConcurrentDictionary<Task, byte> _running = new();
    private int _count;

    public int Running => Volatile.Read(ref _count);

    public Task Run(Func<Task> work, string what)
    {
        Interlocked.Increment(ref _count);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task task = Task.Run(async () =>
        {
            await started.Task.ConfigureAwait(false);
            try
            {
                await work().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                logger.LogDebug("{What} ended: {Reason}", what, e.Message);
                throw;
            }
            finally
            {
                Interlocked.Decrement(ref _count);
            }
        });
        _running.TryAdd(task, 0);
        task.ContinueWith(t => _running.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        started.SetResult();
        return task;
    }

    /// <summary>Waits for every tracked task to end, at most <paramref name="timeout"/>; true when all did.</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (!_running.IsEmpty)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                return false;
            }
            try
            {
                await Task.WhenAll(_running.Keys).WaitAsync(TimeSpan.FromMilliseconds(left)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
            catch (Exception)
            {
                // Failed tasks were logged by Run; keep waiting for the rest.
            }
        }
        return true;
    }
}
