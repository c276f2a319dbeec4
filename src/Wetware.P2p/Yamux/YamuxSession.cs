using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace Wetware.P2p.Yamux;

/// <summary>
/// A Yamux session (yamux spec, /yamux/1.0.0) over a duplex pipe, the Noise channel in practice. The dialer of the
/// connection is the client and opens odd stream ids, the listener even ones. One read loop parses frames and feeds
/// streams; one write loop serializes everything we send (stream data round robin within each send window, window
/// updates, pings, resets, GoAway) and batches flushes. Neither loop ever waits on an application.
/// </summary>
internal sealed class YamuxSession
{
    private readonly IDuplexPipe _pipe;
    private readonly bool _isClient;
    private readonly Action<YamuxStream> _onInboundStream;
    private readonly Action _onStreamRetired;
    private readonly Action<string>? _onLimit;
    // Synchronous continuations: whoever hands the idle write loop work (an application's flush, the read loop's
    // pong or window update) runs it to the socket on its own thread instead of waking another one. The loop never
    // waits on an application, and nothing hands it work while holding a lock it takes.
    private readonly Channel<WorkItem> _work = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
    private readonly Dictionary<uint, YamuxStream> _streams = [];
    private readonly Dictionary<uint, (TaskCompletionSource<TimeSpan> Done, long Started)> _pings = [];
    private readonly object _lock = new();
    private uint _nextStreamId;
    private uint _nextPingId;
    private int _refusedStreams;
    private int _pendingControl;
    private bool _closed;
    private bool _goAwaySent;
    private Exception? _closeReason;
    private uint? _keepAlivePing;

    public YamuxSession(IDuplexPipe pipe, bool isClient, YamuxOptions options, Action<YamuxStream> onInboundStream, Action onStreamRetired, Action<string>? onLimit = null)
    {
        _onLimit = onLimit;
        _pipe = pipe;
        _isClient = isClient;
        Options = options;
        _onInboundStream = onInboundStream;
        _onStreamRetired = onStreamRetired;
        _nextStreamId = isClient ? 1u : 2u;
    }

    public YamuxOptions Options { get; }

    /// <summary>Streams in the table (open in at least one direction).</summary>
    public int StreamCount
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count;
            }
        }
    }

    /// <summary>Why the session ended (set as the read loop ends, before the write loop is stopped).</summary>
    public Exception? CloseReason
    {
        get
        {
            lock (_lock)
            {
                return _closeReason;
            }
        }
    }

    /// <summary>True once the peer sent GoAway: no new streams from us.</summary>
    public bool RemoteGoingAway { get; private set; }

    /// <summary>The GoAway code the peer sent, if it sent one.</summary>
    public GoAwayCode? RemoteGoAwayCode { get; private set; }

    /// <summary>
    /// Opens a stream. With <paramref name="announce"/> the SYN goes out at once; without it, with the caller's
    /// first flush, in the same Noise frame as the data (a stream that starts by writing saves a packet).
    /// </summary>
    public YamuxStream OpenStream(bool announce = true)
    {
        YamuxStream stream;
        lock (_lock)
        {
            if (_closed || _goAwaySent)
            {
                throw new P2pException(P2pError.Closed, "the connection is closing");
            }
            if (RemoteGoingAway)
            {
                throw new P2pException(P2pError.Closed, "the peer is going away (yamux GoAway)");
            }
            if (_streams.Count >= Options.MaxStreams)
            {
                throw new P2pException(P2pError.Limit, $"limit reached: {Options.MaxStreams} streams per connection");
            }
            if (_nextStreamId > uint.MaxValue - 2)
            {
                throw new P2pException(P2pError.Limit, "yamux: stream ids exhausted on this connection");
            }
            stream = new YamuxStream(this, _nextStreamId, outbound: true);
            _nextStreamId += 2;
            _streams.Add(stream.Id, stream);
        }
        if (announce)
        {
            // The SYN goes out now, as a window update, so the peer sees the stream even before we write.
            stream.Schedule();
        }
        return stream;
    }

    /// <summary>Sends a Yamux ping and waits for its answer; the round trip time.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        uint id;
        lock (_lock)
        {
            ThrowIfClosed();
            id = _nextPingId++;
            _pings[id] = (done, Stopwatch.GetTimestamp());
        }
        Enqueue(new FrameHeader(FrameType.Ping, FrameFlags.Syn, 0, id));
        using (cancellationToken.Register(() => done.TrySetCanceled(cancellationToken)))
        {
            try
            {
                return await done.Task.ConfigureAwait(false);
            }
            finally
            {
                lock (_lock)
                {
                    _pings.Remove(id);
                }
            }
        }
    }

    /// <summary>Keep-alive tick: false when the previous keep-alive ping is still unanswered.</summary>
    public bool KeepAliveTick()
    {
        uint id;
        lock (_lock)
        {
            if (_closed)
            {
                return true;
            }
            if (_keepAlivePing is not null)
            {
                return false;
            }
            id = _nextPingId++;
            _keepAlivePing = id;
        }
        Enqueue(new FrameHeader(FrameType.Ping, FrameFlags.Syn, 0, id));
        return true;
    }

    /// <summary>Resets streams whose application is gone while the peer keeps them open past the linger time.</summary>
    public void LingerTick()
    {
        long now = Environment.TickCount64;
        List<YamuxStream> expired = [];
        lock (_lock)
        {
            foreach (YamuxStream s in _streams.Values)
            {
                if (s.LingerExpired(now, Options.LingerTimeout))
                {
                    expired.Add(s);
                }
            }
        }
        foreach (YamuxStream s in expired)
        {
            s.Reset(new P2pException(P2pError.Closed, "the stream was reset: the peer did not finish it after the application closed it"), byPeer: false);
        }
    }

    /// <summary>
    /// Sends GoAway with <paramref name="code"/> (once), then ends our output after what is queued; the read loop
    /// goes on until the peer closes its side.
    /// </summary>
    public void GoAway(GoAwayCode code)
    {
        lock (_lock)
        {
            if (_goAwaySent)
            {
                return;
            }
            _goAwaySent = true;
        }
        _work.Writer.TryWrite(new WorkItem(new FrameHeader(FrameType.GoAway, FrameFlags.None, 0, (uint)code), null));
        _work.Writer.TryComplete();
    }

    public async Task ReadLoopAsync()
    {
        PipeReader input = _pipe.Input;
        Exception reason = new P2pException(P2pError.Closed, "the peer closed the connection");
        long dataRemaining = 0;
        YamuxStream? dataStream = null;
        bool finAfterData = false;
        try
        {
            while (true)
            {
                ReadResult result = await input.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                while (true)
                {
                    if (dataRemaining > 0)
                    {
                        long take = Math.Min(dataRemaining, buffer.Length);
                        if (take == 0)
                        {
                            break;
                        }
                        dataStream?.Deliver(buffer.Slice(0, take));
                        buffer = buffer.Slice(take);
                        dataRemaining -= take;
                        if (dataRemaining == 0 && finAfterData)
                        {
                            dataStream?.RemoteFinished();
                        }
                        continue;
                    }
                    if (buffer.Length < FrameHeader.Size)
                    {
                        break;
                    }
                    FrameHeader header = FrameHeader.Read(buffer);
                    buffer = buffer.Slice(FrameHeader.Size);
                    if (header.Type == FrameType.Data)
                    {
                        dataStream = HandleData(header, out finAfterData);
                        dataRemaining = header.Length;
                        if (dataRemaining == 0 && finAfterData)
                        {
                            dataStream?.RemoteFinished();
                        }
                    }
                    else
                    {
                        HandleControl(header);
                    }
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    if (dataRemaining > 0 || !buffer.IsEmpty)
                    {
                        reason = new P2pException(P2pError.Closed, "the peer closed the connection inside a yamux frame");
                    }
                    return;
                }
            }
        }
        catch (Exception e)
        {
            reason = e;
            throw;
        }
        finally
        {
            await input.CompleteAsync().ConfigureAwait(false);
            Shutdown(reason);
        }
    }

    public async Task WriteLoopAsync()
    {
        PipeWriter output = _pipe.Output;
        ChannelReader<WorkItem> work = _work.Reader;
        Exception? error = null;
        try
        {
            while (await work.WaitToReadAsync().ConfigureAwait(false))
            {
                int written = 0;
                // Batch what is ready into one flush, but flush at least every 1 MiB so the socket starts early.
                while (written < (1 << 20) && work.TryRead(out WorkItem item))
                {
                    if (item.Stream is { } stream)
                    {
                        written += stream.WriteFrames(output, out bool again);
                        if (again)
                        {
                            Schedule(stream);
                        }
                    }
                    else
                    {
                        Interlocked.Decrement(ref _pendingControl);
                        Span<byte> span = output.GetSpan(FrameHeader.Size);
                        item.Header.Write(span);
                        output.Advance(FrameHeader.Size);
                        written += FrameHeader.Size;
                    }
                }
                if (written > 0)
                {
                    FlushResult flush = await output.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted)
                    {
                        throw new P2pException(P2pError.Closed, "the connection's output is closed");
                    }
                }
            }
        }
        catch (Exception e)
        {
            error = e;
            throw;
        }
        finally
        {
            _work.Writer.TryComplete();
            await output.CompleteAsync(error).ConfigureAwait(false);
            Exception reason;
            YamuxStream[] streams;
            lock (_lock)
            {
                _closed = true;
                reason = _closeReason ?? error ?? new P2pException(P2pError.Closed, "the connection is closed");
                streams = [.. _streams.Values];
            }
            foreach (YamuxStream s in streams)
            {
                s.FailOutbound(reason);
                TryRetire(s);
            }
        }
    }

    internal void Schedule(YamuxStream stream)
    {
        if (stream.MarkScheduled() && !_work.Writer.TryWrite(new WorkItem(default, stream)))
        {
            // The write loop is gone; its finally failed every stream's output already.
        }
    }

    /// <summary>Removes a stream whose halves are both finished.</summary>
    internal void TryRetire(YamuxStream stream)
    {
        if (!stream.IsFinished)
        {
            return;
        }
        bool removed;
        bool goAwayAndIdle;
        lock (_lock)
        {
            removed = _streams.TryGetValue(stream.Id, out YamuxStream? current) && ReferenceEquals(current, stream) && _streams.Remove(stream.Id);
            goAwayAndIdle = RemoteGoingAway && _streams.Count == 0;
        }
        if (removed)
        {
            _onStreamRetired();
        }
        if (goAwayAndIdle)
        {
            // The peer is leaving and nothing is open: end our side too.
            GoAway(GoAwayCode.Normal);
        }
    }

    private YamuxStream? HandleData(FrameHeader header, out bool fin)
    {
        fin = (header.Flags & FrameFlags.Fin) != 0;
        YamuxStream? stream = StreamFor(header);
        if (stream is null)
        {
            return null;
        }
        if (!stream.TryReceive(header.Length, out long window))
        {
            throw P2pException.Protocol($"yamux: stream {header.StreamId} sent {header.Length} bytes into a window of {window} (flow-control violation)");
        }
        if ((header.Flags & FrameFlags.Rst) != 0)
        {
            stream.Reset(new P2pException(P2pError.Closed, "the peer reset the stream"), byPeer: true);
            fin = false;
            return null;
        }
        return stream;
    }

    private void HandleControl(FrameHeader header)
    {
        switch (header.Type)
        {
            case FrameType.WindowUpdate:
                {
                    YamuxStream? stream = StreamFor(header);
                    if (stream is null)
                    {
                        return;
                    }
                    stream.AddSendWindow(header.Length);
                    if ((header.Flags & FrameFlags.Rst) != 0)
                    {
                        stream.Reset(new P2pException(P2pError.Closed, "the peer reset the stream"), byPeer: true);
                    }
                    else if ((header.Flags & FrameFlags.Fin) != 0)
                    {
                        stream.RemoteFinished();
                    }
                    return;
                }
            case FrameType.Ping:
                if (header.StreamId != 0)
                {
                    throw P2pException.Protocol($"yamux: a ping on stream {header.StreamId} (pings use stream 0)");
                }
                if ((header.Flags & FrameFlags.Syn) != 0)
                {
                    Enqueue(new FrameHeader(FrameType.Ping, FrameFlags.Ack, 0, header.Length));
                }
                else if ((header.Flags & FrameFlags.Ack) != 0)
                {
                    PingAnswered(header.Length);
                }
                else
                {
                    throw P2pException.Protocol($"yamux: a ping with flags {header.Flags}");
                }
                return;
            case FrameType.GoAway:
                if (header.StreamId != 0)
                {
                    throw P2pException.Protocol($"yamux: a GoAway on stream {header.StreamId}");
                }
                bool idle;
                lock (_lock)
                {
                    RemoteGoingAway = true;
                    RemoteGoAwayCode = (GoAwayCode)header.Length;
                    idle = _streams.Count == 0;
                }
                if (idle)
                {
                    GoAway(GoAwayCode.Normal);
                }
                return;
            default:
                throw P2pException.Protocol($"yamux: unknown frame type {header.Type}");
        }
    }

    /// <summary>The stream a Data or WindowUpdate frame is for, opening it on SYN; null when it is gone.</summary>
    private YamuxStream? StreamFor(FrameHeader header)
    {
        uint id = header.StreamId;
        if (id == 0)
        {
            throw P2pException.Protocol($"yamux: a {header.Type} frame on stream 0");
        }
        YamuxStream? stream;
        if ((header.Flags & FrameFlags.Syn) == 0)
        {
            lock (_lock)
            {
                _streams.TryGetValue(id, out stream);
            }
            return stream;
        }
        bool remoteParity = (id % 2 == 1) != _isClient;
        if (!remoteParity)
        {
            throw P2pException.Protocol($"yamux: the peer opened stream {id}, an id of our parity (both ends think they are the {(_isClient ? "client" : "server")})");
        }
        bool refused = false;
        bool flood = false;
        lock (_lock)
        {
            if (_streams.TryGetValue(id, out stream))
            {
                // A repeated SYN on an open stream: nothing new to do.
                return stream;
            }
            // Not "ids only grow": a stream opened lazily sends its SYN with its first data, so a peer's SYNs
            // may arrive out of id order (ours do; go-yamux and js-libp2p's yamux accept that too).
            if (_closed || _goAwaySent || _streams.Count >= Options.MaxStreams)
            {
                refused = true;
                flood = ++_refusedStreams > Options.MaxRefusedStreams;
            }
            else
            {
                stream = new YamuxStream(this, id, outbound: false);
                _streams.Add(id, stream);
            }
        }
        if (flood)
        {
            throw new P2pException(P2pError.Limit, $"yamux: stream flood: {_refusedStreams} streams refused over the limit of {Options.MaxStreams} per connection");
        }
        if (refused)
        {
            if (_refusedStreams == 1)
            {
                // Logged once per connection (shared/spec/README.md, "Limits").
                _onLimit?.Invoke($"limit reached: {Options.MaxStreams} streams per connection; resetting the peer's new streams");
            }
            Enqueue(new FrameHeader(FrameType.WindowUpdate, FrameFlags.Rst, id, 0));
            return null;
        }
        stream!.Schedule(); // ACK
        _onInboundStream(stream);
        return stream;
    }

    private void PingAnswered(uint id)
    {
        TaskCompletionSource<TimeSpan>? done = null;
        long started = 0;
        lock (_lock)
        {
            if (_keepAlivePing == id)
            {
                _keepAlivePing = null;
                return;
            }
            if (_pings.TryGetValue(id, out var ping))
            {
                (done, started) = ping;
            }
        }
        // An answer to a ping we did not send (or gave up on) is ignored.
        done?.TrySetResult(Stopwatch.GetElapsedTime(started));
    }

    private void Enqueue(FrameHeader header)
    {
        if (Interlocked.Increment(ref _pendingControl) > Options.MaxPendingControlFrames)
        {
            throw P2pException.Protocol($"yamux: more than {Options.MaxPendingControlFrames} control frames queued (the peer sends pings or streams but does not read)");
        }
        _work.Writer.TryWrite(new WorkItem(header, null));
    }

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new P2pException(P2pError.Closed, "the connection is closed");
        }
    }

    /// <summary>The read loop ended: fail every stream's input, every ping, and stop the write loop.</summary>
    private void Shutdown(Exception reason)
    {
        YamuxStream[] streams;
        (TaskCompletionSource<TimeSpan> Done, long Started)[] pings;
        lock (_lock)
        {
            _closeReason ??= reason;
            _closed = true;
            streams = [.. _streams.Values];
            pings = [.. _pings.Values];
        }
        var failure = reason as P2pException ?? new P2pException(P2pError.Closed, reason.Message, reason);
        if (failure.Error is P2pError.Protocol or P2pError.Limit)
        {
            // Tell the peer why before the connection goes (yamux spec: GoAway with a protocol error).
            GoAway(GoAwayCode.ProtocolError);
        }
        foreach (YamuxStream s in streams)
        {
            s.FailInbound(failure);
            TryRetire(s);
        }
        foreach (var ping in pings)
        {
            ping.Done.TrySetException(failure);
        }
        // Queued frames still go out (a GoAway among them), then the write loop ends.
        _work.Writer.TryComplete();
    }

    private readonly record struct WorkItem(FrameHeader Header, YamuxStream? Stream);
}
