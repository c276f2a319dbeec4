using System.IO.Pipelines;

namespace Wetware.Capnp.Rpc;

/// <summary>
/// Writes a connection's framed messages to its transport in the order they are sent, batching:
/// a message sent while another is being flushed waits in a queue, and everything queued goes out
/// with the next single flush (one write for many pipelined calls or returns, instead of one each).
/// A pipe writer takes no writes while it flushes, so one sender at a time owns it.
/// Lazy messages (Finish, Release: nobody waits on them) never cause a flush of their own: they go
/// out with the next other message, or shortly after from the thread pool, so a caller's next call
/// carries the previous call's Finish (one write, and one read for the peer, instead of two).
/// </summary>
internal sealed class MessageWriter(PipeWriter output, Action throwIfClosed, MessagePool pool, long maxQueuedBytes = long.MaxValue, Action<long>? overflow = null) : IThreadPoolWorkItem
{
    private readonly object _sync = new();

    /// <summary>Bytes of the messages waiting in the queue (not yet handed to the transport).</summary>
    private long _queuedBytes;
    private List<Pending> _queue = [];
    private List<Pending>? _spare = [];

    /// <summary>Completes when the queued messages have been flushed (one for the whole queue; none if no one waits).</summary>
    private TaskCompletionSource? _queueFlushed;

    /// <summary>A sender owns the output (writing or flushing); others queue.</summary>
    private bool _busy;

    /// <summary>Messages queue even when no one owns the output, until <see cref="Uncork"/>.</summary>
    private bool _corked;

    /// <summary>The queue holds a message that is not lazy: uncorking writes it at once.</summary>
    private bool _urgent;

    /// <summary>This writer is queued on the thread pool to write the lazy messages nobody took along.</summary>
    private bool _deferred;

    /// <summary>Complete was called: the output is completed as soon as no one owns it.</summary>
    private bool _completing;
    private bool _completed;

    /// <param name="Posted">Nobody waits for it: the writer gives the message back to the connection's <see cref="MessagePool"/> once it is written, unless <paramref name="Keep"/>.</param>
    /// <param name="Failed">For a posted message: runs (with <paramref name="State"/>) if it could not be written or flushed (not when the flush only found that the peer stopped reading).</param>
    private readonly record struct Pending(MessageBuilder Message, Action<object?>? Written, object? State, bool Posted, bool Keep, Action<object?, Exception>? Failed = null);

    /// <summary>
    /// Writes and flushes <paramref name="message"/>, which must stay alive until the task completes.
    /// <paramref name="written"/> runs (with <paramref name="state"/>) once the message is in the
    /// transport's buffer, before the peer can have seen it.
    /// </summary>
    public Task WriteAsync(MessageBuilder message, Action<object?>? written = null, object? state = null)
    {
        (List<Pending> Queue, TaskCompletionSource? Flushed)? batch = null;
        lock (_sync)
        {
            if (_completed)
            {
                return Task.FromException(Closed());
            }
            if (_busy || _corked || _queue.Count > 0)
            {
                Count(message);
                _queue.Add(new Pending(message, written, state, Posted: false, Keep: true));
                _urgent = true;
                // Continuations run inline when the batch is flushed: only this library's own send paths
                // await these tasks, and they only queue more messages or update tables.
                Task queued = (_queueFlushed ??= new TaskCompletionSource()).Task;
                if (_busy || _corked)
                {
                    return queued;
                }
                // Only lazy messages were waiting (for this one): they go first, with it.
                _busy = true;
                batch = TakeQueue();
            }
            else
            {
                _busy = true;
            }
        }
        if (batch is { } b)
        {
            Task queuedBatch = b.Flushed!.Task;
            _ = DrainAsync(b.Queue, b.Flushed);
            return queuedBatch;
        }
        return WriteOwnAsync(new Pending(message, written, state, Posted: false, Keep: true));
    }

    /// <summary>
    /// Sends <paramref name="message"/> without anyone waiting for it (Finish, Return, Release): the
    /// writer owns it from now on and gives it back to the connection's <see cref="MessagePool"/> once it is in the
    /// transport's buffer, unless <paramref name="keep"/> (someone else still reads it). A failure
    /// to send is the connection's, which closes.
    /// </summary>
    /// <param name="lazy">Nobody is in a hurry for it (Finish, Release): it waits for the next other message, or the thread pool, to go out.</param>
    public void Post(MessageBuilder message, Action<object?>? written = null, object? state = null, bool keep = false, bool lazy = false) =>
        Post(new Pending(message, written, state, Posted: true, keep), lazy);

    /// <summary>
    /// Sends <paramref name="message"/> (which the sender keeps and recycles itself) without a task
    /// to await: <paramref name="written"/> runs once it is in the transport's buffer, and
    /// <paramref name="failed"/> if it could not be written or flushed (possibly after
    /// <paramref name="written"/>: the flush failed). A flush that only finds the peer's reader
    /// completed is no failure of the message: it is in the transport, maybe read. Both get <paramref name="state"/>.
    /// </summary>
    public void Send(MessageBuilder message, Action<object?> written, Action<object?, Exception> failed, object? state) =>
        Post(new Pending(message, written, state, Posted: true, Keep: true, failed), lazy: false);

    private void Post(Pending p, bool lazy)
    {
        bool closed;
        (List<Pending> Queue, TaskCompletionSource? Flushed)? batch = null;
        lock (_sync)
        {
            closed = _completed;
            if (!closed)
            {
                if (_busy || _corked || lazy || _queue.Count > 0)
                {
                    Count(p.Message);
                    _queue.Add(p);
                    _urgent |= !lazy;
                    if (_busy || _corked)
                    {
                        return;
                    }
                    if (lazy)
                    {
                        Defer();
                        return;
                    }
                    // Only lazy messages were waiting (for this one): they go first, with it.
                    _busy = true;
                    batch = TakeQueue();
                }
                else
                {
                    _busy = true;
                }
            }
        }
        if (closed)
        {
            Recycle(p);
            p.Failed?.Invoke(p.State, Closed());
            return;
        }
        if (batch is { } b)
        {
            _ = DrainAsync(b.Queue, b.Flushed);
            return;
        }
        _ = WriteOwnAsync(p);
    }

    /// <summary>Queues this writer on the thread pool to write what is waiting (under the lock).</summary>
    private void Defer()
    {
        if (!_deferred)
        {
            _deferred = true;
            // The global queue, not this thread's: the continuation this thread has just queued (a
            // caller's, which may send the next call and take the lazy messages along) runs first.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Writes the lazy messages no other message took along.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        List<Pending> queue;
        TaskCompletionSource? flushed;
        lock (_sync)
        {
            _deferred = false;
            if (_busy || _corked || _completed || _queue.Count == 0)
            {
                return; // the owner, or the uncorking read loop, takes them
            }
            _busy = true;
            (queue, flushed) = TakeQueue();
        }
        _ = DrainAsync(queue, flushed);
    }

    /// <summary>
    /// Holds messages back (queued, not written) until <see cref="Uncork"/>, so that the replies to
    /// the messages of one read go out with one flush. Only the read loop corks.
    /// </summary>
    public void Cork()
    {
        lock (_sync)
        {
            _corked = true;
        }
    }

    /// <summary>Sends what was held back by <see cref="Cork"/>, unless a sender already owns the output (it will).</summary>
    public void Uncork()
    {
        List<Pending> queue;
        TaskCompletionSource? flushed;
        lock (_sync)
        {
            _corked = false;
            if (_busy || _queue.Count == 0)
            {
                return;
            }
            if (!_urgent)
            {
                Defer();
                return;
            }
            _busy = true;
            (queue, flushed) = TakeQueue();
        }
        _ = DrainAsync(queue, flushed);
    }

    /// <summary>Completes the output once the message being written, and those queued behind it, are out.</summary>
    public void Complete()
    {
        bool now;
        (List<Pending> Queue, TaskCompletionSource? Flushed)? batch = null;
        lock (_sync)
        {
            _completing = true;
            now = !_busy && !_completed;
            if (now && _queue.Count > 0)
            {
                // Lazy messages still waiting: their owner's drain recycles them, then completes the output.
                _busy = true;
                batch = TakeQueue();
                now = false;
            }
            else if (now)
            {
                _busy = _completed = true;
            }
        }
        output.CancelPendingFlush();
        if (batch is { } b)
        {
            _ = DrainAsync(b.Queue, b.Flushed);
        }
        if (now)
        {
            _ = output.CompleteAsync().AsTask();
        }
    }

    private async Task WriteOwnAsync(Pending p)
    {
        try
        {
            Write(p);
            if (!await TryFlushAsync().ConfigureAwait(false) && !p.Posted)
            {
                throw StoppedReading();
            }
            // A posted message is not failed when only the flush found the peer's reader gone: it is in
            // the transport, and the peer may have read it (and answered a Call) before it stopped reading.
            // A Call's question is settled by its Return or by the connection's end, like any other.
        }
        catch (Exception e) when (p.Posted)
        {
            // Nobody waits (but a sender may want to know): the connection's read loop sees the broken transport and closes it.
            p.Failed?.Invoke(p.State, e);
        }
        finally
        {
            if (NextBatch() is { } batch)
            {
                // Not awaited: our caller's message is out; the queue is flushed on its own.
                _ = DrainAsync(batch.Queue, batch.Flushed);
            }
        }
    }

    /// <summary>Writes queued batches, one flush each, until the queue is empty.</summary>
    private async Task DrainAsync(List<Pending> queue, TaskCompletionSource? flushed)
    {
        while (true)
        {
            int written = 0;
            try
            {
                for (; written < queue.Count; written++)
                {
                    Write(queue[written]);
                }
                if (await TryFlushAsync().ConfigureAwait(false))
                {
                    flushed?.TrySetResult();
                }
                else
                {
                    // Everything is in the transport (see WriteOwnAsync): posted messages are not failed
                    // for it; the senders awaiting the flush learn that the peer stopped reading.
                    flushed?.TrySetException(StoppedReading());
                }
            }
            catch (Exception e)
            {
                for (int i = written + 1; i < queue.Count; i++)
                {
                    Recycle(queue[i]);
                }
                flushed?.TrySetException(e);
                foreach (Pending p in queue)
                {
                    p.Failed?.Invoke(p.State, e);
                }
            }
            queue.Clear();
            lock (_sync)
            {
                _spare = queue;
            }
            if (NextBatch() is not { } next)
            {
                return;
            }
            (queue, flushed) = next;
        }
    }

    /// <summary>Called by the owner when done: hands it the queue, or gives up the output (completing it if asked).</summary>
    private (List<Pending> Queue, TaskCompletionSource? Flushed)? NextBatch()
    {
        bool complete = false;
        lock (_sync)
        {
            if (_queue.Count > 0)
            {
                return TakeQueue();
            }
            if (_completing && !_completed)
            {
                _completed = complete = true; // stays busy: nothing is written after completion
            }
            else
            {
                _busy = false;
            }
        }
        if (complete)
        {
            _ = output.CompleteAsync().AsTask();
        }
        return null;
    }

    /// <summary>
    /// Counts a queued message (under the lock). A peer that leaves more than the limit unread while we
    /// keep answering would make the queue grow without bound: past it, <c>overflow</c> ends the connection.
    /// </summary>
    private void Count(MessageBuilder message)
    {
        _queuedBytes += Framing.HeaderBytes(message.SegmentCount) + message.SizeInWords * 8;
        if (_queuedBytes > maxQueuedBytes && overflow is not null)
        {
            long queued = _queuedBytes;
            Action<long> report = overflow;
            overflow = null; // once
            ThreadPool.UnsafeQueueUserWorkItem(q => report(q), queued, preferLocal: false);
        }
    }

    /// <summary>The queue, for its new owner to write (under the lock).</summary>
    private (List<Pending> Queue, TaskCompletionSource? Flushed) TakeQueue()
    {
        _queuedBytes = 0;
        List<Pending> queue = _queue;
        _queue = _spare ?? [];
        _spare = null; // the batch comes back as the spare once written
        TaskCompletionSource? flushed = _queueFlushed;
        _queueFlushed = null;
        _urgent = false;
        return (queue, flushed);
    }

    /// <summary>Writes one message to the transport's buffer; a posted one is recycled, written or not.</summary>
    private void Write(Pending p)
    {
        try
        {
            throwIfClosed();
            Framing.Write(output, p.Message);
            p.Written?.Invoke(p.State);
        }
        finally
        {
            Recycle(p);
        }
    }

    private void Recycle(Pending p)
    {
        if (p.Posted && !p.Keep)
        {
            pool.Return(p.Message);
        }
    }

    private static RpcException Closed() => new(RpcErrorType.Disconnected, "the connection is closed");

    /// <summary>
    /// Flushes; false when the peer's reader has completed. That says nothing about what was written
    /// before: a pipe reports it even when the peer read all of it, then answered and completed (a guest
    /// that reads a call, returns and exits before the flush's continuation runs).
    /// </summary>
    private async ValueTask<bool> TryFlushAsync()
    {
        FlushResult r = await output.FlushAsync().ConfigureAwait(false);
        return !r.IsCompleted;
    }

    private static RpcException StoppedReading() => new(RpcErrorType.Disconnected, "the peer stopped reading");
}
