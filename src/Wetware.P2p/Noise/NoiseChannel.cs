using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Wetware.P2p.Noise;

/// <summary>
/// The Noise transport phase as a duplex pipe: frames of a 2-byte big-endian length and at most 65535 bytes of
/// ciphertext (65519 of plaintext and the tag), every one encrypted and authenticated. Plaintext written to
/// <see cref="Output"/> goes straight into the transport's buffer and is encrypted there in place, a frame sealed
/// when it is full or at a flush: no copy and no thread hand-off between the writer (the Yamux write loop) and
/// the socket, and the writer's flush waits for the socket (TCP back-pressure). Frames read from the transport
/// arrive decrypted on <see cref="Input"/>; its reader runs inline on the read loop, so socket to Yamux streams is
/// one thread, and a reader that does not keep up stops the decryption, which stops reading the socket.
/// </summary>
internal sealed class NoiseChannel : IDuplexPipe
{
    public const int MaxPlaintext = NoiseHandshake.MaxMessageLength - CipherState.TagLength;

    private const int MaxFrame = 2 + NoiseHandshake.MaxMessageLength;

    private readonly IDuplexPipe _transport;
    private readonly CipherState _receive;
    private readonly Pipe _inbound;

    public NoiseChannel(IDuplexPipe transport, NoiseResult keys, long bufferBytes = 1 << 20)
    {
        _transport = transport;
        _receive = keys.Receive;
        // Inline both ways: the reader (the Yamux read loop) never waits on an application, and the read loop
        // resumes within the reader's AdvanceTo; Pipe runs either continuation outside its lock.
        _inbound = new Pipe(new PipeOptions(
            pauseWriterThreshold: bufferBytes,
            resumeWriterThreshold: bufferBytes / 2,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            minimumSegmentSize: 65536,
            useSynchronizationContext: false));
        Output = new FrameWriter(transport.Output, keys.Send);
    }

    /// <summary>Decrypted bytes from the peer; completes at the peer's end of stream, faults on a bad frame.</summary>
    public PipeReader Input => _inbound.Reader;

    /// <summary>Bytes to encrypt and send, by one writer at a time; completing it ends the transport's output (TCP FIN).</summary>
    public PipeWriter Output { get; }

    /// <summary>Decrypts until the transport ends; returns normally at end of stream, throws the reason otherwise.</summary>
    public async Task ReadLoopAsync()
    {
        PipeReader source = _transport.Input;
        PipeWriter target = _inbound.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await source.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                bool wrote = false;
                while (TryDecryptFrame(ref buffer, target))
                {
                    wrote = true;
                }
                source.AdvanceTo(buffer.Start, buffer.End);
                if (wrote)
                {
                    FlushResult flush = await target.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted)
                    {
                        return;
                    }
                }
                if (result.IsCompleted || result.IsCanceled)
                {
                    if (!buffer.IsEmpty)
                    {
                        throw new P2pException(P2pError.Closed, $"noise: the connection ended inside a frame ({buffer.Length} bytes left)");
                    }
                    return;
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
            await target.CompleteAsync(error).ConfigureAwait(false);
            await source.CompleteAsync().ConfigureAwait(false);
            _receive.Dispose();
        }
    }

    private bool TryDecryptFrame(ref ReadOnlySequence<byte> buffer, PipeWriter target)
    {
        if (buffer.Length < 2)
        {
            return false;
        }
        Span<byte> prefix = stackalloc byte[2];
        buffer.Slice(0, 2).CopyTo(prefix);
        int length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
        if (length < CipherState.TagLength)
        {
            throw P2pException.Protocol($"noise: a frame of {length} bytes, shorter than its {CipherState.TagLength}-byte tag");
        }
        if (buffer.Length < 2 + length)
        {
            return false;
        }
        ReadOnlySequence<byte> frame = buffer.Slice(2, length);
        int plaintext = length - CipherState.TagLength;
        Span<byte> destination = target.GetSpan(Math.Max(plaintext, 1))[..plaintext];
        bool ok;
        if (frame.IsSingleSegment)
        {
            ReadOnlySpan<byte> span = frame.FirstSpan;
            ok = _receive.TryDecrypt([], span[..plaintext], span[plaintext..], destination);
        }
        else
        {
            // Split across the transport's buffers: gather it where the plaintext goes and decrypt it in place.
            Span<byte> tag = stackalloc byte[CipherState.TagLength];
            frame.Slice(0, plaintext).CopyTo(destination);
            frame.Slice(plaintext).CopyTo(tag);
            ok = _receive.TryDecrypt([], destination, tag, destination);
        }
        if (!ok)
        {
            throw P2pException.Protocol("noise: a transport frame failed authentication");
        }
        target.Advance(plaintext);
        buffer = buffer.Slice(2 + length);
        return true;
    }

    /// <summary>
    /// Hands out the plaintext room of one frame at a time in the transport's own buffer; the frame is encrypted in
    /// place (tag after it, length before it) when full, when a caller needs more room than it has left, or at a flush.
    /// </summary>
    private sealed class FrameWriter(PipeWriter transport, CipherState cipher) : PipeWriter
    {
        private Memory<byte> _frame;
        private int _length;

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return _frame.Slice(2 + _length, MaxPlaintext - _length);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return _frame.Span.Slice(2 + _length, MaxPlaintext - _length);
        }

        public override void Advance(int bytes)
        {
            if (bytes < 0 || bytes > (_frame.IsEmpty ? 0 : MaxPlaintext - _length))
            {
                throw new ArgumentOutOfRangeException(nameof(bytes), "advanced past the memory handed out");
            }
            _length += bytes;
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Seal();
            return transport.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => transport.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            if (exception is null)
            {
                Seal();
            }
            _frame = default;
            try
            {
                transport.Complete(exception);
            }
            finally
            {
                cipher.Dispose();
            }
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            if (exception is null)
            {
                Seal();
            }
            _frame = default;
            try
            {
                await transport.CompleteAsync(exception).ConfigureAwait(false);
            }
            finally
            {
                cipher.Dispose();
            }
        }

        private void Reserve(int sizeHint)
        {
            if (sizeHint > MaxPlaintext)
            {
                throw new ArgumentOutOfRangeException(nameof(sizeHint), $"a Noise frame holds at most {MaxPlaintext} bytes of plaintext");
            }
            if (!_frame.IsEmpty && MaxPlaintext - _length >= Math.Max(sizeHint, 1))
            {
                return;
            }
            Seal();
            _frame = transport.GetMemory(MaxFrame)[..MaxFrame];
        }

        private void Seal()
        {
            if (_length > 0)
            {
                Span<byte> frame = _frame.Span;
                BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)(_length + CipherState.TagLength));
                // In place: the AEAD accepts a plaintext and ciphertext that start at the same address.
                cipher.Encrypt([], frame.Slice(2, _length), frame.Slice(2, _length + CipherState.TagLength));
                transport.Advance(2 + _length + CipherState.TagLength);
            }
            _frame = default;
            _length = 0;
        }
    }
}
