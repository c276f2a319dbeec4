using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Wetware.Capnp;

/// <summary>
/// The standard stream framing (encoding spec, "Serialization over a stream"): a segment
/// table of (count - 1) and each segment's size in words, as 32-bit little-endian values
/// padded to a word, then the segments.
/// </summary>
public static class Framing
{
    /// <summary>Bytes of the segment table for <paramref name="segmentCount"/> segments.</summary>
    public static int HeaderBytes(int segmentCount) => (4 + 4 * segmentCount + 7) & ~7;

    /// <summary>Bytes of the whole framed message.</summary>
    public static long FramedSize(MessageBuilder message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _ = message.FirstSegment;
        return HeaderBytes(message.SegmentCount) + message.SizeInWords * 8;
    }

    /// <summary>Writes the framed message to <paramref name="output"/> (the only copy of the segments).</summary>
    public static void Write(IBufferWriter<byte> output, MessageBuilder message)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(message);
        _ = message.FirstSegment;
        int n = message.SegmentCount;
        int header = HeaderBytes(n);
        Span<byte> h = output.GetSpan(header)[..header];
        WriteHeader(h, message);
        output.Advance(header);
        for (int i = 0; i < n; i++)
        {
            output.Write(message.GetSegment(i).Span);
        }
    }

    private static void WriteHeader(Span<byte> h, MessageBuilder message)
    {
        int n = message.SegmentCount;
        h.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)(n - 1));
        for (int i = 0; i < n; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(h[(4 + 4 * i)..], (uint)(message.Segments[i].Used / 8));
        }
    }

    /// <summary>The framed message as a new array.</summary>
    public static byte[] ToArray(MessageBuilder message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var bytes = new byte[FramedSize(message)];
        WriteHeader(bytes, message);
        int at = HeaderBytes(message.SegmentCount);
        for (int i = 0; i < message.SegmentCount; i++)
        {
            ReadOnlySpan<byte> s = message.GetSegment(i).Span;
            s.CopyTo(bytes.AsSpan(at));
            at += s.Length;
        }
        return bytes;
    }

    /// <summary>
    /// Reads one framed message from the start of <paramref name="framed"/> without copying it
    /// (array-backed memory). <paramref name="bytesConsumed"/> is the frame's length.
    /// </summary>
    public static MessageReader Read(ReadOnlyMemory<byte> framed, out int bytesConsumed, ReaderOptions? options = null)
    {
        options ??= ReaderOptions.Default;
        Segment[] segs = ParseSegments(framed, options, null, out bytesConsumed);
        return new MessageReader(segs, options, null);
    }

    /// <summary>The segments of the frame at the start of <paramref name="framed"/>, reusing <paramref name="reuse"/> when it has the right length.</summary>
    internal static Segment[] ParseSegments(ReadOnlyMemory<byte> framed, ReaderOptions options, Segment[]? reuse, out int bytesConsumed)
    {
        var seq = new ReadOnlySequence<byte>(framed);
        if (!TryParseHeader(seq, options, out int header, out long body, out int segments) || framed.Length < header + body)
        {
            ThrowHelper.Format(framed.Length < 8 || framed.Length < header
                ? "message is truncated in its segment table"
                : $"message is truncated: the segment table announces {header + body} bytes, {framed.Length} are present");
        }
        if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray(framed, out ArraySegment<byte> array))
        {
            array = new ArraySegment<byte>(framed.ToArray());
        }
        Segment[] segs = SegmentsFrom(framed.Span, segments, array.Array!, array.Offset + header, reuse);
        bytesConsumed = header + (int)body;
        return segs;
    }

    /// <summary>Reads one framed message that must fill <paramref name="framed"/> exactly.</summary>
    public static MessageReader Read(ReadOnlyMemory<byte> framed, ReaderOptions? options = null)
    {
        MessageReader m = Read(framed, out int consumed, options);
        if (consumed != framed.Length)
        {
            ThrowHelper.Format($"{framed.Length - consumed} bytes follow the message");
        }
        return m;
    }

    /// <summary>
    /// Parses the segment table, checking the limits as soon as the table is known, so a
    /// peer cannot make us buffer more than the message size limit.
    /// </summary>
    private static bool TryParseHeader(ReadOnlySequence<byte> buffer, ReaderOptions options, out int headerBytes, out long bodyBytes, out int segmentCount)
    {
        headerBytes = 0;
        bodyBytes = 0;
        segmentCount = 0;
        if (buffer.Length < 4)
        {
            return false;
        }
        Span<byte> first = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(first);
        segmentCount = SegmentCount(first, options);
        headerBytes = HeaderBytes(segmentCount);
        if (buffer.Length < headerBytes)
        {
            return false;
        }
        Span<byte> table = segmentCount <= 64 ? stackalloc byte[headerBytes] : new byte[headerBytes];
        buffer.Slice(0, headerBytes).CopyTo(table);
        bodyBytes = BodyBytes(table, segmentCount, options);
        return true;
    }

    /// <summary>The segment count from the first word of a segment table, checked against the limit.</summary>
    internal static int SegmentCount(ReadOnlySpan<byte> firstWord, ReaderOptions options)
    {
        long count = (long)BinaryPrimitives.ReadUInt32LittleEndian(firstWord) + 1;
        if (count > options.MaxSegments)
        {
            ThrowHelper.Limit(CapnpLimit.SegmentCount, options.MaxSegments);
        }
        return (int)count;
    }

    /// <summary>The body size a whole segment table announces, checked against the message size limit.</summary>
    internal static long BodyBytes(ReadOnlySpan<byte> table, int segmentCount, ReaderOptions options)
    {
        long words = 0;
        for (int i = 0; i < segmentCount; i++)
        {
            words += BinaryPrimitives.ReadUInt32LittleEndian(table[(4 + 4 * i)..]);
        }
        if (HeaderBytes(segmentCount) + words * 8 > options.MaxMessageBytes)
        {
            ThrowHelper.Limit(CapnpLimit.MessageSize, options.MaxMessageBytes);
        }
        return words * 8;
    }

    internal static Segment[] SegmentsFrom(ReadOnlySpan<byte> header, int count, byte[] array, int bodyStart, Segment[]? reuse = null)
    {
        Segment[] segs = reuse is not null && reuse.Length == count ? reuse : new Segment[count];
        int at = bodyStart;
        for (int i = 0; i < count; i++)
        {
            int bytes = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[(4 + 4 * i)..]) * 8;
            segs[i] = new Segment(array, at, at + bytes);
            at += bytes;
        }
        return segs;
    }

    /// <summary>
    /// Takes one whole message from the front of <paramref name="buffer"/>, copying its segments
    /// once into a pooled array owned by the returned message (dispose it to return the array).
    /// Returns false, leaving <paramref name="buffer"/> unchanged, when the message is not all there yet.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, ReaderOptions options, out MessageReader? message)
    {
        ArgumentNullException.ThrowIfNull(options);
        message = null;
        if (!TryParseHeader(buffer, options, out int header, out long body, out int count) || buffer.Length < header + body)
        {
            return false;
        }
        Span<byte> table = count <= 64 ? stackalloc byte[header] : new byte[header];
        buffer.Slice(0, header).CopyTo(table);
        byte[] pooled = ArrayPool<byte>.Shared.Rent((int)Math.Max(body, 8));
        buffer.Slice(header, body).CopyTo(pooled);
        message = new MessageReader(SegmentsFrom(table, count, pooled, 0), options, pooled);
        buffer = buffer.Slice(header + body);
        return true;
    }

    /// <summary>
    /// Reads the next message from <paramref name="reader"/>. Returns null at a clean end of
    /// stream (between messages); an end inside a message is a <see cref="CapnpFormatException"/>.
    /// </summary>
    public static async ValueTask<MessageReader?> ReadMessageAsync(PipeReader reader, ReaderOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        options ??= ReaderOptions.Default;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool got;
            MessageReader? message;
            try
            {
                got = TryRead(ref buffer, options, out message);
            }
            catch
            {
                reader.AdvanceTo(buffer.Start);
                throw;
            }
            if (got)
            {
                reader.AdvanceTo(buffer.Start);
                return message;
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                long left = buffer.Length;
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (left == 0 && result.IsCompleted)
                {
                    return null;
                }
                if (result.IsCanceled)
                {
                    throw new OperationCanceledException("the read was canceled");
                }
                ThrowHelper.Format($"stream ended inside a message ({left} bytes of it received)");
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Writes the framed message to <paramref name="writer"/> and flushes.</summary>
    public static ValueTask<FlushResult> WriteMessageAsync(PipeWriter writer, MessageBuilder message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Write(writer, message);
        return writer.FlushAsync(cancellationToken);
    }
}
