using System.Buffers;
using System.IO.Pipelines;

namespace Wetware.P2p.Yamux;

/// <summary>
/// One Yamux stream. Its halves have one owner each: the session's read loop writes the inbound pipe (under this
/// stream's lock, so a local reset can complete it), the session's write loop reads the outbound pipe. The stream
/// leaves the session's table once both halves are finished (FIN or RST each way).
/// </summary>
internal sealed class YamuxStream : IDuplexPipe
{
    private readonly YamuxSession _session;
    private readonly Pipe _inbound;
    private readonly Pipe _outbound;
    private readonly object _lock = new();

    // Flow control (yamux spec, "Flow Control"): what the peer may still send us, what we may still send.
    private long _receiveWindow = YamuxOptions.InitialWindow;
    private long _sendWindow = YamuxOptions.InitialWindow;
    private long _consumedUnacked;
    private long _buffered;
    private bool _updatePending;

    private bool _needOpenFlag;
    private bool _inboundDone;
    private bool _outboundDone;
    private bool _reset;
    private bool _resetByPeer;
    private bool _resetSent;
    private bool _applicationReadDone;
    private long _lingerSince;
    private int _scheduled;

    public YamuxStream(YamuxSession session, uint id, bool outbound)
    {
        _session = session;
        Id = id;
        IsOutbound = outbound;
        _needOpenFlag = true;
        // Inbound never pauses: the receive window bounds it, and a pause would stall every stream of the session.
        _inbound = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 16384, useSynchronizationContext: false));
        _outbound = new Pipe(new PipeOptions(
            pauseWriterThreshold: session.Options.SendBuffer,
            resumeWriterThreshold: session.Options.SendBuffer / 2,
            minimumSegmentSize: 16384,
            useSynchronizationContext: false));
        Input = new StreamReader(_inbound.Reader, this);
        Output = new StreamWriter(_outbound.Writer, this);
    }

    public uint Id { get; }

    public bool IsOutbound { get; }

    /// <summary>What the peer sent; completes at its FIN, faults with a <see cref="P2pException"/> at a reset.</summary>
    public PipeReader Input { get; }

    /// <summary>What we send; completing it sends FIN once the data before it is out.</summary>
    public PipeWriter Output { get; }

    internal bool IsFinished
    {
        get
        {
            lock (_lock)
            {
                return _inboundDone && _outboundDone;
            }
        }
    }

    internal long SendWindow
    {
        get
        {
            lock (_lock)
            {
                return _sendWindow;
            }
        }
    }

    /// <summary>Resets the stream (RST): both directions end at once, unsent data is dropped.</summary>
    public void Reset() => Reset(new P2pException(P2pError.Closed, "the stream was reset locally"), byPeer: false);

    /// <summary>The application is done with the stream: reads are discarded from now on, and if the peer has not
    /// finished sending within the linger time, the stream is reset.</summary>
    internal void ApplicationDisposed()
    {
        lock (_lock)
        {
            if (!_inboundDone)
            {
                _lingerSince = Environment.TickCount64;
            }
        }
    }

    internal bool LingerExpired(long now, TimeSpan linger)
    {
        lock (_lock)
        {
            return _lingerSince != 0 && !_inboundDone && !_reset && now - _lingerSince >= (long)linger.TotalMilliseconds;
        }
    }

    internal void Reset(Exception reason, bool byPeer)
    {
        lock (_lock)
        {
            if (_reset || (_inboundDone && _outboundDone))
            {
                return;
            }
            _reset = true;
            _resetByPeer = byPeer;
            if (!_inboundDone)
            {
                _inboundDone = true;
                _inbound.Writer.Complete(reason);
            }
        }
        Schedule();
    }

    // ---- read loop side -------------------------------------------------------------------------------------

    /// <summary>Reserves <paramref name="length"/> bytes of the receive window; false when the peer overran it.</summary>
    internal bool TryReceive(uint length, out long window)
    {
        lock (_lock)
        {
            window = _receiveWindow;
            if (length > _receiveWindow)
            {
                return false;
            }
            _receiveWindow -= length;
            return true;
        }
    }

    /// <summary>Data for this stream (already counted against the window).</summary>
    internal void Deliver(ReadOnlySequence<byte> data)
    {
        bool credit = false;
        lock (_lock)
        {
            if (_inboundDone || _applicationReadDone)
            {
                // Nobody will read it: count it consumed so the peer is not stalled by data we drop.
                _consumedUnacked += data.Length;
                credit = NeedsUpdate();
            }
            else
            {
                _buffered += data.Length;
                PipeWriter writer = _inbound.Writer;
                foreach (ReadOnlyMemory<byte> segment in data)
                {
                    writer.Write(segment.Span);
                }
                // Never waits: the pipe has no pause threshold.
                ValueTask<FlushResult> flush = writer.FlushAsync();
                if (!flush.IsCompletedSuccessfully)
                {
                    flush.AsTask().GetAwaiter().GetResult();
                }
            }
        }
        if (credit)
        {
            Schedule();
        }
    }

    /// <summary>The peer's FIN: no more data will come.</summary>
    internal void RemoteFinished()
    {
        lock (_lock)
        {
            if (_inboundDone)
            {
                return;
            }
            _inboundDone = true;
            _inbound.Writer.Complete();
        }
        _session.TryRetire(this);
    }

    internal void AddSendWindow(uint delta)
    {
        bool wake;
        lock (_lock)
        {
            wake = _sendWindow == 0 && delta > 0;
            // The yamux spec does not bound a window; 2^32-1 per update and a long keep it from wrapping.
            _sendWindow = Math.Min(_sendWindow + delta, uint.MaxValue);
        }
        if (wake)
        {
            Schedule();
        }
    }

    /// <summary>Called by the read loop as it ends: the inbound half fails with the session's reason.</summary>
    internal void FailInbound(Exception reason)
    {
        lock (_lock)
        {
            if (!_inboundDone)
            {
                _inboundDone = true;
                _inbound.Writer.Complete(reason);
            }
        }
    }

    // ---- application side ------------------------------------------------------------------------------------

    private void OnConsumed(long bytes)
    {
        if (bytes == 0)
        {
            return;
        }
        bool schedule;
        lock (_lock)
        {
            _buffered -= bytes;
            _consumedUnacked += bytes;
            schedule = NeedsUpdate();
        }
        if (schedule)
        {
            Schedule();
        }
    }

    private void OnApplicationReadDone()
    {
        bool schedule;
        lock (_lock)
        {
            _applicationReadDone = true;
            // Whatever sat unread in the pipe is dropped with it: give its window back.
            _consumedUnacked += _buffered;
            _buffered = 0;
            schedule = NeedsUpdate();
        }
        if (schedule)
        {
            Schedule();
        }
    }

    private bool NeedsUpdate()
    {
        // Window updates go out once half the window is used, so a steady reader keeps the sender busy.
        if (!_updatePending && !_inboundDone && _consumedUnacked >= _session.Options.ReceiveWindow / 2)
        {
            _updatePending = true;
            return true;
        }
        return false;
    }

    internal void Schedule() => _session.Schedule(this);

    internal bool MarkScheduled() => Interlocked.Exchange(ref _scheduled, 1) == 0;

    // ---- write loop side -------------------------------------------------------------------------------------

    /// <summary>
    /// Writes what this stream has to say into <paramref name="output"/>: an open flag, a window update, data
    /// within the send window, FIN or RST. Returns the bytes written and whether the stream wants another turn.
    /// </summary>
    internal int WriteFrames(PipeWriter output, out bool again)
    {
        again = false;
        Volatile.Write(ref _scheduled, 0);
        FrameFlags open = FrameFlags.None;
        uint delta = 0;
        bool sendReset;
        bool resetByPeer;
        bool outboundDone;
        long window;
        lock (_lock)
        {
            if (_resetSent)
            {
                return 0;
            }
            if (_needOpenFlag)
            {
                open = IsOutbound ? FrameFlags.Syn : FrameFlags.Ack;
                _needOpenFlag = false;
                // A window larger than the spec's initial one is granted with the opening frame.
                int extra = _session.Options.ReceiveWindow - YamuxOptions.InitialWindow;
                _receiveWindow += extra;
                delta += (uint)extra;
            }
            if (_updatePending)
            {
                _updatePending = false;
                if (!_inboundDone)
                {
                    delta += (uint)_consumedUnacked;
                    _receiveWindow += _consumedUnacked;
                }
                _consumedUnacked = 0;
            }
            sendReset = _reset;
            resetByPeer = _resetByPeer;
            outboundDone = _outboundDone;
            window = _sendWindow;
        }
        int written = 0;
        if (sendReset)
        {
            if (!resetByPeer)
            {
                written += WriteHeader(output, new FrameHeader(FrameType.WindowUpdate, open | FrameFlags.Rst, Id, 0));
            }
            lock (_lock)
            {
                _resetSent = true;
                _outboundDone = true;
            }
            if (!outboundDone)
            {
                _outbound.Reader.Complete(new P2pException(P2pError.Closed, resetByPeer ? "the peer reset the stream" : "the stream was reset locally"));
            }
            _session.TryRetire(this);
            return written;
        }
        if (open != FrameFlags.None || delta != 0)
        {
            written += WriteHeader(output, new FrameHeader(FrameType.WindowUpdate, open, Id, delta));
        }
        if (outboundDone)
        {
            return written;
        }
        if (!_outbound.Reader.TryRead(out ReadResult result))
        {
            return written;
        }
        ReadOnlySequence<byte> buffer = result.Buffer;
        long n = Math.Min(Math.Min(buffer.Length, window), _session.Options.MaxDataFrame);
        if (n > 0)
        {
            written += WriteHeader(output, new FrameHeader(FrameType.Data, FrameFlags.None, Id, (uint)n));
            foreach (ReadOnlyMemory<byte> segment in buffer.Slice(0, n))
            {
                output.Write(segment.Span);
            }
            written += (int)n;
            lock (_lock)
            {
                _sendWindow -= n;
                window = _sendWindow;
            }
        }
        bool drained = n == buffer.Length;
        _outbound.Reader.AdvanceTo(buffer.GetPosition(n));
        if (drained && result.IsCompleted)
        {
            written += WriteHeader(output, new FrameHeader(FrameType.WindowUpdate, FrameFlags.Fin, Id, 0));
            lock (_lock)
            {
                _outboundDone = true;
            }
            _outbound.Reader.Complete();
            _session.TryRetire(this);
            return written;
        }
        // More to send and room in the window: another turn after the other streams (round robin). With no room,
        // the peer's window update schedules the stream again.
        again = !drained && window > 0;
        return written;
    }

    /// <summary>Called by the write loop as it ends: the outbound half fails with the session's reason.</summary>
    internal void FailOutbound(Exception reason)
    {
        lock (_lock)
        {
            if (_outboundDone)
            {
                return;
            }
            _outboundDone = true;
        }
        _outbound.Reader.Complete(reason);
    }

    private static int WriteHeader(PipeWriter output, FrameHeader header)
    {
        Span<byte> span = output.GetSpan(FrameHeader.Size);
        header.Write(span);
        output.Advance(FrameHeader.Size);
        return FrameHeader.Size;
    }

    public override string ToString() => $"yamux stream {Id} ({(IsOutbound ? "outbound" : "inbound")})";

    /// <summary>The application's reader: counts what it consumes, which refills the peer's window.</summary>
    private sealed class StreamReader(PipeReader inner, YamuxStream stream) : PipeReader
    {
        private ReadOnlySequence<byte> _last;

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            long bytes = _last.Slice(_last.Start, consumed).Length;
            _last = default;
            inner.AdvanceTo(consumed, examined);
            stream.OnConsumed(bytes);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            stream.OnApplicationReadDone();
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ValueTask<ReadResult> read = inner.ReadAsync(cancellationToken);
            if (read.IsCompletedSuccessfully)
            {
                ReadResult result = read.Result;
                _last = result.Buffer;
                return new ValueTask<ReadResult>(result);
            }
            return Awaited(read);
        }

        public override bool TryRead(out ReadResult result)
        {
            if (inner.TryRead(out result))
            {
                _last = result.Buffer;
                return true;
            }
            return false;
        }

        private async ValueTask<ReadResult> Awaited(ValueTask<ReadResult> read)
        {
            ReadResult result = await read.ConfigureAwait(false);
            _last = result.Buffer;
            return result;
        }
    }

    /// <summary>The application's writer: a flush hands the stream to the session's write loop.</summary>
    private sealed class StreamWriter(PipeWriter inner, YamuxStream stream) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            // FlushAsync commits the data before it returns, so the write loop finds it once scheduled.
            ValueTask<FlushResult> flush = inner.FlushAsync(cancellationToken);
            stream.Schedule();
            return flush;
        }

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            stream.Schedule();
        }
    }
}
