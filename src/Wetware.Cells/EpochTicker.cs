namespace Wetware.Cells;

/// <summary>
/// Advances the engine's epoch while any cell runs. Every store has a deadline one tick ahead and a callback
/// that either extends it (the guest runs on) or unwinds a killed guest, so a kill stops even a loop that
/// never calls the host within one interval; <see cref="Wake"/> ticks at once for a prompt kill.
/// </summary>
internal sealed class EpochTicker : IDisposable
{
    private readonly Action _tick;
    private readonly TimeSpan _interval;
    private readonly object _gate = new();
    private readonly Thread _thread;
    private int _active;
    private bool _disposed;

    /// <param name="tick">Increments the epoch of every engine that runs cells.</param>
    public EpochTicker(Action tick, TimeSpan interval)
    {
        _tick = tick;
        _interval = interval;
        _thread = new Thread(Loop) { IsBackground = true, Name = "cell epoch ticker" };
        _thread.Start();
    }

    /// <summary>A cell starts: tick while it runs.</summary>
    public void Enter()
    {
        lock (_gate)
        {
            _active++;
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>A cell ended.</summary>
    public void Exit()
    {
        lock (_gate)
        {
            _active--;
        }
    }

    /// <summary>One tick now, so every running guest reaches its deadline callback promptly.</summary>
    public void Wake()
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                _tick();
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.Pulse(_gate);
        }
        _thread.Join();
    }

    private void Loop()
    {
        while (true)
        {
            lock (_gate)
            {
                while (_active == 0 && !_disposed)
                {
                    Monitor.Wait(_gate);
                }
                if (_disposed)
                {
                    return;
                }
                _tick();
            }
            Thread.Sleep(_interval);
        }
    }
}
