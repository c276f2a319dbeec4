using System.Runtime.InteropServices;

namespace Wetware.Capnp;

/// <summary>One segment: a word-aligned range of an array, as absolute byte offsets.</summary>
internal struct Segment
{
    public byte[] Array;
    public int Start;
    public int End;

    public Segment(byte[] array, int start, int end)
    {
        Array = array;
        Start = start;
        End = end;
    }
}

/// <summary>
/// A received message: its segments and the reader's limits. Readers obtained from it are
/// zero-copy views over the segment memory, valid until the message is disposed.
/// </summary>
/// <remarks>
/// Every pointer followed charges the size of its target to a per-message traversal budget,
/// so a message cannot make a reader do more work than its limits allow, whatever its
/// pointers claim (encoding spec, "Security considerations").
/// </remarks>
public sealed class MessageReader : IDisposable
{
    internal Segment[] Segments;
    internal long TraversalLeft;
    private byte[]? _pooled;
    private readonly ReaderOptions _options;

    static MessageReader()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Wetware.Capnp reads messages in place and needs a little-endian platform");
        }
    }

    /// <summary>A message over the given segments, without copying them (array-backed memory) or with one copy otherwise.</summary>
    public MessageReader(IReadOnlyList<ReadOnlyMemory<byte>> segments, ReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(segments);
        _options = options ?? ReaderOptions.Default;
        if (segments.Count == 0)
        {
            ThrowHelper.Format("a message has at least one segment");
        }
        if (segments.Count > _options.MaxSegments)
        {
            ThrowHelper.Limit(CapnpLimit.SegmentCount, _options.MaxSegments);
        }
        long total = 0;
        Segments = new Segment[segments.Count];
        for (int i = 0; i < segments.Count; i++)
        {
            ReadOnlyMemory<byte> m = segments[i];
            if (m.Length % 8 != 0)
            {
                ThrowHelper.Format($"segment {i} is {m.Length} bytes, not a whole number of words");
            }
            total += m.Length;
            if (!MemoryMarshal.TryGetArray(m, out ArraySegment<byte> a))
            {
                a = new ArraySegment<byte>(m.ToArray());
            }
            Segments[i] = new Segment(a.Array!, a.Offset, a.Offset + a.Count);
        }
        if (total > _options.MaxMessageBytes)
        {
            ThrowHelper.Limit(CapnpLimit.MessageSize, _options.MaxMessageBytes);
        }
        TraversalLeft = _options.TraversalLimitWords;
    }

    /// <summary>A message of one segment (the "flat" form, as canonical messages are).</summary>
    public MessageReader(ReadOnlyMemory<byte> singleSegment, ReaderOptions? options = null)
        : this([singleSegment], options)
    {
    }

    internal MessageReader(Segment[] segments, ReaderOptions options, byte[]? pooled)
    {
        Segments = segments;
        _options = options;
        _pooled = pooled;
        TraversalLeft = options.TraversalLimitWords;
    }

    /// <summary>
    /// A message of one trusted segment that code reads over and over (generated default values
    /// and constants): no traversal or nesting limit applies to it.
    /// </summary>
    public static MessageReader FromTrustedSegment(byte[] segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        if (segment.Length % 8 != 0 || segment.Length < 8)
        {
            ThrowHelper.Format("a trusted segment holds at least the root pointer and whole words");
        }
        return new MessageReader([new Segment(segment, 0, segment.Length)], MessageBuilder.BuilderViewOptions, null);
    }

    /// <summary>The limits this message is read under.</summary>
    public ReaderOptions Options => _options;

    public int SegmentCount => Segments.Length;

    /// <summary>Words the reader may still traverse before <see cref="CapnpLimit.TraversalWords"/> is hit.</summary>
    public long TraversalWordsRemaining => TraversalLeft;

    /// <summary>Total size of the segments in bytes (without a frame header).</summary>
    public long SizeInBytes
    {
        get
        {
            long n = 0;
            foreach (Segment s in Segments)
            {
                n += s.End - s.Start;
            }
            return n;
        }
    }

    public ReadOnlyMemory<byte> GetSegment(int index)
    {
        Segment s = Segments[index];
        return new ReadOnlyMemory<byte>(s.Array, s.Start, s.End - s.Start);
    }

    /// <summary>
    /// Points this reader at another framed message (zero-copy, array-backed memory), reusing
    /// its segment table: a loop that reads many messages this way allocates nothing.
    /// </summary>
    public void Reset(ReadOnlyMemory<byte> framed)
    {
        if (_pooled is not null)
        {
            ThrowHelper.InvalidOperation("a reader that owns a pooled buffer cannot be reset");
        }
        Segments = Framing.ParseSegments(framed, _options, Segments, out int consumed);
        if (consumed != framed.Length)
        {
            ThrowHelper.Format($"{framed.Length - consumed} bytes follow the message");
        }
        TraversalLeft = _options.TraversalLimitWords;
    }

    /// <summary>Restores the traversal budget, for a second full read of the same message.</summary>
    public void ResetTraversalLimit() => TraversalLeft = _options.TraversalLimitWords;

    /// <summary>The root pointer (word 0 of segment 0).</summary>
    public AnyPointerReader Root => new(RootPointer());

    /// <summary>The root as a struct; a null root reads as a struct of all defaults.</summary>
    public StructReader GetRoot() => RootPointer().ReadStruct();

    public T GetRoot<T>() where T : struct, IStructView<T> => T.FromStruct(GetRoot());

    internal PointerReader RootPointer()
    {
        Segment s0 = Segments[0];
        if (s0.End - s0.Start < 8)
        {
            ThrowHelper.Format("message has no root pointer (its first segment is empty)");
        }
        return new PointerReader(this, s0.Array, 0, s0.Start, _options.NestingLimit);
    }

    internal void Charge(long words)
    {
        if ((TraversalLeft -= words) < 0)
        {
            TraversalLeft = 0;
            ThrowHelper.Limit(CapnpLimit.TraversalWords, _options.TraversalLimitWords);
        }
    }

    internal void CheckBounds(int segment, long position, long bytes)
    {
        ref Segment s = ref Segments[segment];
        if (position < s.Start || position + bytes > s.End)
        {
            ThrowHelper.Format($"pointer target out of bounds of segment {segment}");
        }
    }

    /// <summary>Returns pooled memory (if the message owns any). Views of this message must not be used afterwards.</summary>
    public void Dispose()
    {
        byte[]? p = Interlocked.Exchange(ref _pooled, null);
        if (p is not null)
        {
            Segments = [];
            System.Buffers.ArrayPool<byte>.Shared.Return(p);
        }
    }
}
