using System.Diagnostics;

namespace Wetware.Cells;

/// <summary>
/// The threads cells run on. A guest still has a thread to itself from start to end, so a guest that blocks
/// never stalls another; but a thread whose guest ended waits a while for the next one instead of exiting.
/// Creating a thread, and the per-thread setup that .NET and Wasmtime (its signal stack) do on first use,
/// cost several times a whole hello guest's run (bench/cells.sh).
/// </summary>
internal sealed class CellThreads : IDisposable
{
    /// <summary>By default, an idle thread exits after this long without a guest.</summary>
    internal static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a thread whose guest ended watches for the next one before it sleeps.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency * 50 / 1_000_000;

    /// <summary>At most this many threads wait idle; more exit as their guests end.</summary>
    private const int MaxIdle = 256;

    private readonly int _stackBytes;
    private readonly TimeSpan _idleTimeout;
    private readonly object _gate = new();
    private readonly List<Worker> _idle = [];
    private bool _disposed;

    public CellThreads(int stackBytes, TimeSpan? idleTimeout = null)
    {
        _stackBytes = stackBytes;
        _idleTimeout = idleTimeout ?? DefaultIdleTimeout;
    }

    /// <summary>Threads alive now, idle or running a guest (for tests).</summary>
    internal int Count;

    /// <summary>Threads waiting for a guest now (for tests).</summary>
    internal int IdleCount
    {
        get
        {
            lock (_gate)
            {
                return _idle.Count;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> (which must not throw) on a thread of its own: the most recently idle one,
    /// or a new one.
    /// </summary>
    public void Run(Action work, string name)
    {
        Worker? worker = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_idle.Count > 0)
            {
                // The most recent: its stack and caches are the warmest, and the oldest can time out.
                worker = _idle[^1];
                _idle.RemoveAt(_idle.Count - 1);
            }
        }
        if (worker is null)
        {
            worker = new Worker(this);
            Interlocked.Increment(ref Count);
            worker.Hand(work, name);
            var thread = new Thread(worker.Loop, _stackBytes) { IsBackground = true, Name = name };
            thread.Start();
        }
        else
        {
            worker.Hand(work, name);
        }
    }

    /// <summary>Idle threads exit now; busy ones exit when their guest ends.</summary>
    public void Dispose()
    {
        Worker[] idle;
        lock (_gate)
        {
            _disposed = true;
            idle = [.. _idle];
            _idle.Clear();
        }
        foreach (Worker w in idle)
        {
            w.Hand(null, null);
        }
    }

    /// <summary>Called by a worker whose guest ended: true to wait for another, false to exit.</summary>
    private bool Park(Worker worker)
    {
        lock (_gate)
        {
            if (_disposed || _idle.Count >= MaxIdle)
            {
                return false;
            }
            _idle.Add(worker);
            return true;
        }
    }

    /// <summary>Called by a worker that waited the idle timeout: true if it may exit (nobody picked it meanwhile).</summary>
    private bool Retire(Worker worker)
    {
        lock (_gate)
        {
            return _idle.Remove(worker);
        }
    }

    private sealed class Worker(CellThreads pool)
    {
        private readonly object _signal = new();
        private Action? _work;
        private string? _name;
        private volatile bool _handed;

        /// <summary>Gives the worker its next guest (null: exit).</summary>
        public void Hand(Action? work, string? name)
        {
            lock (_signal)
            {
                _work = work;
                _name = name;
                _handed = true;
                Monitor.Pulse(_signal);
            }
        }

        /// <summary>
        /// Watches for the next guest a short while before sleeping: waking a sleeping thread costs about as much
        /// as a whole hello guest's run here (a futex wake, and an interrupt to the other CPU in a VM), and a
        /// thread that just parked is the first one picked.
        /// </summary>
        private void SpinForWork()
        {
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            var spinner = default(SpinWait);
            while (!_handed && Stopwatch.GetTimestamp() < deadline)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }

        public void Loop()
        {
            try
            {
                bool first = true;
                while (true)
                {
                    Action? work;
                    string? name;
                    SpinForWork();
                    lock (_signal)
                    {
                        while (!_handed)
                        {
                            if (!Monitor.Wait(_signal, pool._idleTimeout) && !_handed && pool.Retire(this))
                            {
                                return;
                            }
                        }
                        _handed = false;
                        work = _work;
                        name = _name;
                        _work = null;
                    }
                    if (work is null)
                    {
                        return;
                    }
                    if (!first && Thread.CurrentThread.Name != name)
                    {
                        // Naming a thread is a system call: only when the name changes.
                        Thread.CurrentThread.Name = name;
                    }
                    first = false;
                    work();
                    if (!pool.Park(this))
                    {
                        return;
                    }
                }
            }
            finally
            {
                Interlocked.Decrement(ref pool.Count);
            }
        }
    }
}
