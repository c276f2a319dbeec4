using System.Buffers;

namespace Wetware.P2p;

/// <summary>
/// Unsigned LEB128 varints (multiformats unsigned-varint spec): at most 9 bytes, minimally encoded. They prefix
/// multistream-select lines, identify messages and multiaddr components, and protobuf uses them for tags.
/// </summary>
internal static class Varint
{
    public const int MaxLength = 9;

    public static int Size(ulong value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    public static int Write(ulong value, Span<byte> destination)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static void Write(IBufferWriter<byte> writer, ulong value)
    {
        Span<byte> span = writer.GetSpan(MaxLength + 1);
        writer.Advance(Write(value, span));
    }

    /// <summary>Reads one varint; false when it is truncated, longer than 9 bytes or not minimal.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int length)
    {
        value = 0;
        length = 0;
        for (int i = 0; i < source.Length && i < MaxLength; i++)
        {
            byte b = source[i];
            value |= (ulong)(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if (b == 0 && i > 0)
                {
                    value = 0;
                    return false;
                }
                length = i + 1;
                return true;
            }
        }
        value = 0;
        return false;
    }

    /// <summary>The outcome of reading a varint from a sequence that may still be growing.</summary>
    public enum Status
    {
        Done,
        NeedMore,
        Malformed,
    }

    /// <summary>Reads a varint from the start of <paramref name="source"/>, which may be split across segments.</summary>
    public static Status TryRead(in ReadOnlySequence<byte> source, out ulong value, out int length)
    {
        if (source.FirstSpan.Length >= MaxLength || source.IsSingleSegment)
        {
            if (TryRead(source.FirstSpan, out value, out length))
            {
                return Status.Done;
            }
            return Classify(source.FirstSpan);
        }
        Span<byte> head = stackalloc byte[MaxLength];
        int n = (int)Math.Min(MaxLength, source.Length);
        source.Slice(0, n).CopyTo(head);
        if (TryRead(head[..n], out value, out length))
        {
            return Status.Done;
        }
        return Classify(head[..n]);
    }

    private static Status Classify(ReadOnlySpan<byte> bytes)
    {
        // Truncated (every byte so far has the continuation bit and fewer than 9 came) or broken.
        for (int i = 0; i < bytes.Length; i++)
        {
            if ((bytes[i] & 0x80) == 0)
            {
                return Status.Malformed;
            }
        }
        return bytes.Length >= MaxLength ? Status.Malformed : Status.NeedMore;
    }
}
