using System.Buffers;

namespace Wetware.P2p;

/// <summary>
/// Unsigned LEB128 varints (multiformats unsigned-varint spec): at most 9 bytes, minimally encoded. They prefix
/// multistream-select lines, identify messages and multiaddr components, and protobuf uses them for tags. The span
/// forms are Wetware.Identity's (Peer IDs use the same varints); this adds buffer writers and growing sequences.
/// </summary>
internal static class Varint
{
    public const int MaxLength = Identity.UVarint.MaxLength;

    public static int Size(ulong value) => Identity.UVarint.Size(value);

    public static int Write(ulong value, Span<byte> destination) => Identity.UVarint.Write(value, destination);

    public static void Write(IBufferWriter<byte> writer, ulong value)
    {
        Span<byte> span = writer.GetSpan(MaxLength + 1);
        writer.Advance(Write(value, span));
    }

    /// <summary>Reads one varint; false when it is truncated, longer than 9 bytes or not minimal.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int length) =>
        Identity.UVarint.TryRead(source, out value, out length);

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
