using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Wetware.P2p.Noise;

/// <summary>
/// The Noise transport phase as a duplex pipe: plaintext written to <see cref="Output"/> leaves as frames of a 2-byte
/// big-endian length and at most 65535 bytes of ciphertext (65519 of plaintext and the tag), and frames read from
/// the transport arrive decrypted on <see cref="Input"/>. Two loops, each bounded by its pipe's thresholds: a
/// reader that does not keep up stops the decryption, which stops reading the socket (TCP back-pressure).
/// </summary>
internal sealed class NoiseChannel : IDuplexPipe
{
    public const int MaxPlaintext = NoiseHandshake.MaxMessageLength - CipherState.TagLength;

    private readonly IDuplexPipe _transport;
    private readonly CipherState _send;
    private readonly CipherState _receive;
    private readonly Pipe _inbound;
    private readonly Pipe _outbound;

    public NoiseChannel(IDuplexPipe transport, NoiseResult keys, long bufferBytes = 1 << 20)
    {
        _transport = transport;
        _send = keys.Send;
        _receive = keys.Receive;
        var options = new PipeOptions(
            pauseWriterThreshold: bufferBytes,
            resumeWriterThreshold: bufferBytes / 2,
            minimumSegmentSize: 16384,
            useSynchronizationContext: false);
        _inbound = new Pipe(options);
        _outbound = new Pipe(options);
    }

    /// <summary>Decrypted bytes from the peer; completes at the peer's end of stream, faults on a bad frame.</summary>
    public PipeReader Input => _inbound.Reader;

    /// <summary>Bytes to encrypt and send; completing it ends the transport's output (TCP FIN).</summary>
    public PipeWriter Output => _outbound.Writer;

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

    /// <summary>Encrypts until <see cref="Output"/> is completed, then completes the transport's output.</summary>
    public async Task WriteLoopAsync()
    {
        PipeReader source = _outbound.Reader;
        PipeWriter target = _transport.Output;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await source.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                while (!buffer.IsEmpty)
                {
                    int chunk = (int)Math.Min(buffer.Length, MaxPlaintext);
                    EncryptFrame(buffer.Slice(0, chunk), target);
                    buffer = buffer.Slice(chunk);
                }
                source.AdvanceTo(buffer.End);
                if (!result.Buffer.IsEmpty)
                {
                    FlushResult flush = await target.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted)
                    {
                        throw new P2pException(P2pError.Closed, "the connection's socket is closed");
                    }
                }
                if (result.IsCompleted || result.IsCanceled)
                {
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
            await source.CompleteAsync(error).ConfigureAwait(false);
            await target.CompleteAsync(error).ConfigureAwait(false);
            _send.Dispose();
        }
    }

    private void EncryptFrame(ReadOnlySequence<byte> plaintext, PipeWriter target)
    {
        int length = (int)plaintext.Length;
        Span<byte> span = target.GetSpan(2 + length + CipherState.TagLength);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)(length + CipherState.TagLength));
        Span<byte> frame = span.Slice(2, length + CipherState.TagLength);
        if (plaintext.IsSingleSegment)
        {
            _send.Encrypt([], plaintext.FirstSpan, frame);
        }
        else
        {
            // In place: the AEAD accepts a plaintext and ciphertext that start at the same address.
            plaintext.CopyTo(frame);
            _send.Encrypt([], frame[..length], frame);
        }
        target.Advance(2 + length + CipherState.TagLength);
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
            ok = _receive.TryDecrypt([], frame.FirstSpan, destination);
        }
        else
        {
            byte[] rented = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                frame.CopyTo(rented);
                ok = _receive.TryDecrypt([], rented.AsSpan(0, length), destination);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
        if (!ok)
        {
            throw P2pException.Protocol("noise: a transport frame failed authentication");
        }
        target.Advance(plaintext);
        buffer = buffer.Slice(2 + length);
        return true;
    }
}
