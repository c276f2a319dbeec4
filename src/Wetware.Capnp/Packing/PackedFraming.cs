using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Wetware.Capnp;

/// <summary>Framed messages in the packed encoding, as <c>capnp convert ...:packed</c> writes them.</summary>
public static class PackedFraming
{
    /// <summary>Writes the message framed and packed (segment table, then each segment, each packed on its own as the reference does).</summary>
    public static void Write(IBufferWriter<byte> output, MessageBuilder message)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(message);
        _ = message.FirstSegment;
        int n = message.SegmentCount;
        int headerBytes = Framing.HeaderBytes(n);
        byte[] header = ArrayPool<byte>.Shared.Rent(headerBytes);
        try
        {
            Span<byte> h = header.AsSpan(0, headerBytes);
            h.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)(n - 1));
            for (int i = 0; i < n; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(h[(4 + 4 * i)..], (uint)(message.Segments[i].Used / 8));
            }
            PackedEncoder.Encode(h, output);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(header);
        }
        for (int i = 0; i < n; i++)
        {
            PackedEncoder.Encode(message.GetSegment(i).Span, output);
        }
    }

    public static byte[] ToArray(MessageBuilder message)
    {
        var w = new ArrayBufferWriter<byte>();
        Write(w, message);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Reads one packed, framed message that fills <paramref name="packed"/>.</summary>
    public static MessageReader Read(ReadOnlySpan<byte> packed, ReaderOptions? options = null)
    {
        options ??= ReaderOptions.Default;
        byte[] unpacked = PackedDecoder.DecodeAll(packed, options.MaxMessageBytes);
        return Framing.Read(unpacked, options);
    }

    public static ValueTask<FlushResult> WriteMessageAsync(PipeWriter writer, MessageBuilder message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Write(writer, message);
        return writer.FlushAsync(cancellationToken);
    }
}

/// <summary>
/// Reads packed, framed messages from a pipe, unpacking straight into each message's pooled
/// buffer (the one copy). The segment table is checked against the limits before the body
/// is unpacked, so a hostile stream cannot make us inflate more than the message size limit.
/// </summary>
public sealed class PackedMessageReader
{
    private readonly PipeReader _reader;
    private readonly ReaderOptions _options;
    private PackedDecoder _decoder;

    public PackedMessageReader(PipeReader reader, ReaderOptions? options = null)
    {
        _reader = reader ?? throw new ArgumentNullException(nameof(reader));
        _options = options ?? ReaderOptions.Default;
    }

    /// <summary>The next message, or null at a clean end of stream.</summary>
    public async ValueTask<MessageReader?> ReadMessageAsync(CancellationToken cancellationToken = default)
    {
        byte[] first = new byte[8];
        if (!await FillAsync(first, 0, 8, atStart: true, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        int count = Framing.SegmentCount(first, _options);
        int headerBytes = Framing.HeaderBytes(count);
        byte[] header = new byte[headerBytes];
        first.CopyTo(header, 0);
        await FillAsync(header, 8, headerBytes - 8, atStart: false, cancellationToken).ConfigureAwait(false);
        int body = (int)Framing.BodyBytes(header, count, _options);
        byte[] pooled = ArrayPool<byte>.Shared.Rent(Math.Max(body, 8));
        try
        {
            await FillAsync(pooled, 0, body, atStart: false, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(pooled);
            throw;
        }
        Segment[] segs = Framing.SegmentsFrom(header, count, pooled, 0);
        return new MessageReader(segs, _options, pooled);
    }

    /// <summary>Unpacks exactly <paramref name="length"/> bytes. False only for a clean end before the first byte of a message.</summary>
    private async ValueTask<bool> FillAsync(byte[] target, int offset, int length, bool atStart, CancellationToken cancellationToken)
    {
        int filled = 0;
        while (true)
        {
            // A run in progress may still have output pending without any new input.
            _decoder.Decode([], target.AsSpan(offset + filled, length - filled), out _, out int pending);
            filled += pending;
            if (filled == length)
            {
                return true;
            }
            ReadResult result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition consumedTo = buffer.Start;
            foreach (ReadOnlyMemory<byte> chunk in buffer)
            {
                _decoder.Decode(chunk.Span, target.AsSpan(offset + filled, length - filled), out int consumed, out int written);
                filled += written;
                consumedTo = buffer.GetPosition(consumed, consumedTo);
                if (filled == length)
                {
                    break;
                }
            }
            bool leftover = !buffer.Slice(consumedTo).IsEmpty;
            _reader.AdvanceTo(consumedTo, filled < length ? buffer.End : consumedTo);
            if (filled < length && (result.IsCompleted || result.IsCanceled))
            {
                if (result.IsCanceled)
                {
                    throw new OperationCanceledException("the read was canceled");
                }
                if (atStart && filled == 0 && _decoder.IsAtWordBoundary && !leftover)
                {
                    return false;
                }
                ThrowHelper.Format("stream ended inside a packed message");
            }
        }
    }
}
