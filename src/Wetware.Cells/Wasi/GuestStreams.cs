using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Wetware.Cells.Wasi;

/// <summary>Thrown inside a host call to unwind a guest that was killed; caught around <c>_start</c>.</summary>
internal sealed class CellKilledException() : Exception("the cell was killed");

/// <summary>Thrown by <c>proc_exit</c>; caught around <c>_start</c>.</summary>
internal sealed class GuestExitException(int code) : Exception($"proc_exit({code})")
{
    public int Code { get; } = code;
}

internal static class Blocking
{
    /// <summary>
    /// Blocks the cell's thread until <paramref name="task"/> completes, or unwinds the guest when the cell is
    /// killed. The task is abandoned in that case: whatever it waits for may never come (a console read).
    /// </summary>
    public static void Wait(Task task, CancellationToken kill)
    {
        if (task.IsCompleted)
        {
            return;
        }
        try
        {
            task.Wait(kill);
        }
        catch (OperationCanceledException) when (kill.IsCancellationRequested)
        {
            throw new CellKilledException();
        }
        catch (AggregateException)
        {
            // The task's own failure: the caller reads it from the task.
        }
    }
}

/// <summary>
/// The guest's reading end of a byte stream (fd 0, and fd 4's host-to-guest direction). A read that has to
/// wait is kept pending across calls rather than canceled, so <c>poll_oneoff</c> can time out and a later
/// <c>fd_read</c> picks the same read up: this works with any <see cref="PipeReader"/>, including ones over
/// streams that ignore cancellation. Without a reader, the stream is at its end from the start.
/// </summary>
internal sealed class GuestInput(PipeReader? source)
{
    // Used only while _eof is false, which it never is without a source.
    private readonly PipeReader reader = source!;
    private readonly bool _absent = source is null;
    private Task<ReadResult>? _pending;
    private Task? _handoff;
    private ReadResult _held;
    private bool _holding;
    private bool _eof = source is null;
    private bool _failed;
    private bool _released;

    /// <summary>True when a read would not block (data, end of stream or an error); never blocks.</summary>
    public bool IsReady(out long available)
    {
        bool ready = Pump();
        available = ready && _holding ? _held.Buffer.Length : 0;
        return ready;
    }

    public bool IsAtEnd => _eof || _failed;

    /// <summary>The read being waited for, when <see cref="IsReady"/> said false.</summary>
    public Task? Pending => _handoff ?? _pending;

    public Errno Read(GuestMemory memory, ReadOnlySpan<IoVec> iovs, CancellationToken kill, out uint count)
    {
        count = 0;
        long capacity = 0;
        foreach (IoVec v in iovs)
        {
            capacity += v.Length;
        }
        if (capacity == 0)
        {
            return Errno.Success;
        }
        while (!Pump())
        {
            Blocking.Wait(Pending!, kill);
        }
        if (_failed)
        {
            return Errno.Io;
        }
        if (_eof)
        {
            return Errno.Success;
        }
        ReadOnlySequence<byte> buffer = _held.Buffer;
        long n = Math.Min(capacity, buffer.Length);
        ReadOnlySequence<byte> source = buffer.Slice(0, n);
        foreach (IoVec v in iovs)
        {
            if (source.IsEmpty)
            {
                break;
            }
            int take = (int)Math.Min(v.Length, source.Length);
            source.Slice(0, take).CopyTo(memory.Span(v));
            source = source.Slice(take);
        }
        _holding = false;
        reader.AdvanceTo(buffer.GetPosition(n));
        count = (uint)n;
        return Errno.Success;
    }

    /// <summary>
    /// Leaves the reader usable by its next owner (a restarted pid0 reads on where this one stopped): an
    /// unconsumed result is given back at once; a pending read is canceled and given back when it completes,
    /// which happens on the reader's scheduler (maybe the thread pool), so the dying cell does not wait for
    /// it: the next <see cref="GuestInput"/> on the same reader does, through <see cref="Handoffs"/>.
    /// </summary>
    public void Release()
    {
        if (_released || _absent)
        {
            return;
        }
        _released = true;
        try
        {
            if (_holding)
            {
                _holding = false;
                reader.AdvanceTo(_held.Buffer.Start);
            }
            if (_pending is { } pending)
            {
                _pending = null;
                reader.CancelPendingRead();
                Task givenBack = pending.ContinueWith(
                    static (read, state) =>
                    {
                        if (read.IsCompletedSuccessfully)
                        {
                            try
                            {
                                ((PipeReader)state!).AdvanceTo(read.Result.Buffer.Start);
                            }
                            catch (InvalidOperationException)
                            {
                                // Completed by its owner meanwhile.
                            }
                        }
                    },
                    reader, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                Handoffs.AddOrUpdate(reader, givenBack);
            }
        }
        catch (InvalidOperationException)
        {
            // The owner completed or broke the reader meanwhile: nothing left to give back.
        }
    }

    /// <summary>Readers whose previous guest's last read is still being given back.</summary>
    private static readonly ConditionalWeakTable<PipeReader, Task> Handoffs = new();

    /// <summary>Advances the read state machine without blocking; true when a read can answer now.</summary>
    private bool Pump()
    {
        while (true)
        {
            if (_holding || _eof || _failed)
            {
                return true;
            }
            ReadResult result;
            if (_pending is null)
            {
                if (_handoff is null && Handoffs.TryGetValue(reader, out Task? handoff) && !handoff.IsCompleted)
                {
                    _handoff = handoff;
                }
                if (_handoff is not null)
                {
                    if (!_handoff.IsCompleted)
                    {
                        return false;
                    }
                    _handoff = null;
                }
                ValueTask<ReadResult> read;
                try
                {
                    read = reader.ReadAsync();
                }
                catch (Exception)
                {
                    _failed = true;
                    return true;
                }
                if (!read.IsCompleted)
                {
                    _pending = read.AsTask();
                    return false;
                }
                try
                {
                    result = read.Result;
                }
                catch (Exception)
                {
                    _failed = true;
                    return true;
                }
            }
            else
            {
                if (!_pending.IsCompleted)
                {
                    return false;
                }
                Task<ReadResult> done = _pending;
                _pending = null;
                if (!done.IsCompletedSuccessfully)
                {
                    _failed = true;
                    return true;
                }
                result = done.Result;
            }
            if (!result.Buffer.IsEmpty)
            {
                _held = result;
                _holding = true;
                return true;
            }
            if (result.IsCompleted)
            {
                reader.AdvanceTo(result.Buffer.End);
                _eof = true;
                return true;
            }
            // An empty, canceled read (someone called CancelPendingRead): read again.
            reader.AdvanceTo(result.Buffer.Start);
        }
    }
}

/// <summary>
/// The guest's writing end of a byte stream (fds 1 and 2, and fd 4's guest-to-host direction). Data goes out
/// in chunks, each flushed, so a huge <c>fd_write</c> streams through a bounded buffer instead of being copied
/// whole. In blocking mode (stdout, stderr) a write returns when all of it was accepted; in partial mode (fd 4)
/// it takes one chunk, returns its count, and only the next write waits for the previous flush: "write what
/// fits, block only while the buffer is completely full". Without a writer, everything written is discarded.
/// </summary>
internal sealed class GuestOutput(PipeWriter? writer, bool partial)
{
    private const int ChunkBytes = 64 * 1024;
    private Task<FlushResult>? _pendingFlush;
    private bool _closed;

    /// <summary>True when a write would not block; never blocks.</summary>
    public bool IsReady => _closed || _pendingFlush is null || _pendingFlush.IsCompleted;

    public bool IsClosed => _closed;

    public Task? Pending => _pendingFlush;

    public Errno Write(GuestMemory memory, ReadOnlySpan<IoVec> iovs, CancellationToken kill, out uint count)
    {
        count = 0;
        long total = 0;
        foreach (IoVec v in iovs)
        {
            total += v.Length;
        }
        WaitForRoom(kill);
        if (_closed)
        {
            return Errno.Pipe;
        }
        if (total == 0)
        {
            return Errno.Success;
        }
        if (writer is null)
        {
            count = (uint)total;
            return Errno.Success;
        }
        long written = 0;
        int vec = 0;
        int offset = 0;
        try
        {
            while (written < total)
            {
                int chunk = (int)Math.Min(ChunkBytes, total - written);
                Span<byte> destination = writer.GetSpan(chunk)[..chunk];
                int filled = 0;
                while (filled < chunk)
                {
                    Span<byte> source = memory.Span(iovs[vec])[offset..];
                    int take = Math.Min(source.Length, chunk - filled);
                    source[..take].CopyTo(destination[filled..]);
                    filled += take;
                    offset += take;
                    if (offset == iovs[vec].Length)
                    {
                        vec++;
                        offset = 0;
                    }
                }
                writer.Advance(chunk);
                ValueTask<FlushResult> flush = writer.FlushAsync();
                if (flush.IsCompleted)
                {
                    if (flush.Result.IsCompleted)
                    {
                        // The reader is gone: this chunk is not going anywhere.
                        _closed = true;
                        break;
                    }
                    written += chunk;
                }
                else
                {
                    // The reader is behind. Fd 4 returns now (the next write or a poll waits for room);
                    // stdout and stderr wait here, so the guest's write is all-or-error.
                    written += chunk;
                    _pendingFlush = flush.AsTask();
                    if (!partial)
                    {
                        WaitForRoom(kill);
                    }
                }
                if (partial || _closed)
                {
                    break;
                }
            }
        }
        catch (CellKilledException)
        {
            throw;
        }
        catch (Exception)
        {
            // The owner completed the writer under us: nobody is reading any more.
            _closed = true;
        }
        count = (uint)written;
        return written == 0 && _closed ? Errno.Pipe : Errno.Success;
    }

    private void WaitForRoom(CancellationToken kill)
    {
        if (_pendingFlush is not { } pending)
        {
            return;
        }
        Blocking.Wait(pending, kill);
        _pendingFlush = null;
        if (!pending.IsCompletedSuccessfully || pending.Result.IsCompleted)
        {
            _closed = true;
        }
    }
}
