using System.Buffers;
using System.IO.Pipelines;

namespace Wetware.Host;

/// <summary>
/// The host's stdin relayed to pid0 through a pipe (shared/spec/cli.md): one reader of the host's stream for the
/// whole run, and one pipe per pid0. When an epoch restarts pid0, the old pid0's pipe is closed (it reads end of
/// file) and the next pid0 reads on where the old one stopped: a chunk read while no pid0 is attached waits for
/// the next one, and nothing read is written twice. Bytes already in the old pid0's pipe were its to read.
/// </summary>
internal sealed class StdinRelay
{
    private readonly Stream _from;
    private readonly object _lock = new();
    private readonly SemaphoreSlim _attached = new(0);
    private Pipe? _current;
    private Pipe? _writing;
    private bool _ended;

    public StdinRelay(Stream from) => _from = from;

    /// <summary>A new pipe for the next pid0; already at end of file once the host's stdin ended.</summary>
    public PipeReader Attach()
    {
        var pipe = new Pipe(new PipeOptions(useSynchronizationContext: false));
        lock (_lock)
        {
            if (_ended)
            {
                pipe.Writer.Complete();
                return pipe.Reader;
            }
            _current = pipe;
        }
        _attached.Release();
        return pipe.Reader;
    }

    /// <summary>Closes the attached pid0's stdin (it reads end of file); later input waits for <see cref="Attach"/>.</summary>
    public void Detach()
    {
        Pipe? close;
        lock (_lock)
        {
            close = _current;
            _current = null;
            if (close is not null && ReferenceEquals(close, _writing))
            {
                // The relay is inside a write to it: wake its flush; the relay closes the pipe after it.
                close.Writer.CancelPendingFlush();
                return;
            }
        }
        close?.Writer.Complete();
    }

    /// <summary>Relays until the host's stdin ends (the attached pipe then reads end of file) or <paramref name="stop"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        byte[] buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int n = await _from.ReadAsync(buffer, stop).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                await DeliverAsync(buffer.AsMemory(0, n), stop).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Stopped, or the host's stdin went away: as at end of file.
        }
        finally
        {
            Pipe? last;
            lock (_lock)
            {
                _ended = true;
                last = _current;
                _current = null;
            }
            last?.Writer.Complete();
        }
    }

    private async Task DeliverAsync(ReadOnlyMemory<byte> chunk, CancellationToken stop)
    {
        while (true)
        {
            Pipe? pipe;
            lock (_lock)
            {
                pipe = _current;
                _writing = pipe;
            }
            if (pipe is null)
            {
                await _attached.WaitAsync(stop).ConfigureAwait(false);
                continue;
            }
            // FlushAsync commits the bytes before it waits for the reader, so once called they are that pid0's.
            pipe.Writer.Write(chunk.Span);
            await pipe.Writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            bool detached;
            lock (_lock)
            {
                _writing = null;
                detached = !ReferenceEquals(pipe, _current);
            }
            if (detached)
            {
                // Detach came while we wrote and left the closing to us.
                pipe.Writer.Complete();
            }
            return;
        }
    }
}
