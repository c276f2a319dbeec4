using System.Diagnostics;
using System.Text;
using Wasmtime;

namespace Wetware.Cells.Wasi;

/// <summary>
/// One guest's WASI state, kept as its <see cref="Store"/>'s data: the descriptor table, argv, environment,
/// the kill signal, and how the guest ended. Only the cell's own thread touches it, except for the kill fields.
/// </summary>
internal sealed class WasiContext
{
    /// <summary>Descriptors a guest may hold at once (fds 0 to 4 included).</summary>
    public const int MaxDescriptors = 1024;

    /// <summary>The preopened directory's number (guest-abi.md).</summary>
    public const int PreopenFd = 3;

    /// <summary>The first number handed out by <c>path_open</c>: 0 to 4 have fixed meanings.</summary>
    private const int FirstFreeFd = 5;

    private readonly List<Descriptor?> _fds;
    private readonly CancellationTokenSource _kill = new();
    private volatile bool _killed;

    public WasiContext(IReadOnlyList<string> args, IReadOnlyList<string> env, Descriptor?[] initial)
    {
        Args = Encode(args);
        Env = Encode(env);
        _fds = [.. initial];
    }

    public byte[][] Args { get; }

    public byte[][] Env { get; }

    /// <summary>The guest's exported memory, set after instantiation (or found through the caller before that).</summary>
    public Memory? Memory { get; set; }

    /// <summary>Set by <c>proc_exit</c>.</summary>
    public int? ExitCode { get; set; }

    /// <summary>Canceled when the cell is killed: every blocking host call waits on it too.</summary>
    public CancellationToken KillToken => _kill.Token;

    public bool Killed => _killed;

    /// <summary>From any thread: stops the guest at its next epoch check or blocking host call.</summary>
    public void Kill()
    {
        _killed = true;
        _kill.Cancel();
    }

    public Descriptor? Get(int fd) => fd >= 0 && fd < _fds.Count ? _fds[fd] : null;

    /// <summary>The lowest free number from 5 up, or -1 when the table is full.</summary>
    public int Add(Descriptor descriptor)
    {
        for (int fd = FirstFreeFd; fd < _fds.Count; fd++)
        {
            if (_fds[fd] is null)
            {
                _fds[fd] = descriptor;
                return fd;
            }
        }
        while (_fds.Count < FirstFreeFd)
        {
            _fds.Add(null);
        }
        if (_fds.Count >= MaxDescriptors)
        {
            return -1;
        }
        _fds.Add(descriptor);
        return _fds.Count - 1;
    }

    public Descriptor? Remove(int fd)
    {
        Descriptor? d = Get(fd);
        if (d is not null)
        {
            _fds[fd] = null;
        }
        return d;
    }

    /// <summary>Closes every descriptor still open; the cell has ended.</summary>
    public void CloseAll()
    {
        for (int fd = 0; fd < _fds.Count; fd++)
        {
            Descriptor? d = _fds[fd];
            _fds[fd] = null;
            try
            {
                d?.Close();
            }
            catch (Exception)
            {
                // A broken stream at exit is not the guest's result.
            }
        }
    }

    /// <summary>Monotonic time in nanoseconds.</summary>
    public static long MonotonicNow()
    {
        long ts = Stopwatch.GetTimestamp();
        return Stopwatch.Frequency == 1_000_000_000 ? ts : (long)((Int128)ts * 1_000_000_000 / Stopwatch.Frequency);
    }

    /// <summary>Wall-clock time in nanoseconds since the Unix epoch.</summary>
    public static long RealtimeNow() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;

    private static byte[][] Encode(IReadOnlyList<string> items)
    {
        var encoded = new byte[items.Count][];
        for (int i = 0; i < items.Count; i++)
        {
            encoded[i] = Encoding.UTF8.GetBytes(items[i] + "\0");
        }
        return encoded;
    }
}
