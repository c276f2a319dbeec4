using System.Buffers;

namespace Wetware.Capnp;

/// <summary>A segment being written: a pooled, zeroed array filled from the front.</summary>
internal sealed class SegmentBuilder
{
    public byte[] Buffer;
    public readonly int Id;
    public int Used;
    public readonly int Capacity;

    public SegmentBuilder(int id, int minWords)
    {
        Id = id;
        Buffer = ArrayPool<byte>.Shared.Rent(checked(minWords * 8));
        Capacity = Buffer.Length & ~7;
        Array.Clear(Buffer, 0, Capacity);
    }

    public int Free => Capacity - Used;
}

/// <summary>
/// Builds a message into pooled segments. When the current segment is full a new one is
/// added (objects never move), and pointers that cross segments become far pointers
/// (encoding spec, "Inter-segment pointers"). Dispose to return the segments to the pool.
/// </summary>
public sealed class MessageBuilder : IDisposable
{
    public const int DefaultFirstSegmentWords = 1024;

    /// <summary>Largest single object, in words: a list of 2^29 - 1 words plus its tag.</summary>
    internal const int MaxObjectWords = (1 << 29) + 1;

    internal readonly List<SegmentBuilder> Segments = [];
    private readonly int _firstSegmentWords;
    private long _allocatedWords;
    private MessageReader? _view;

    public MessageBuilder(int firstSegmentWords = DefaultFirstSegmentWords)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(firstSegmentWords, 1);
        _firstSegmentWords = firstSegmentWords;
    }

    public int SegmentCount => Segments.Count;

    /// <summary>Words written so far, over every segment.</summary>
    public long SizeInWords
    {
        get
        {
            long n = 0;
            foreach (SegmentBuilder s in Segments)
            {
                n += s.Used / 8;
            }
            return n;
        }
    }

    /// <summary>The written part of segment <paramref name="index"/>.</summary>
    public ReadOnlyMemory<byte> GetSegment(int index)
    {
        SegmentBuilder s = Segments[index];
        return new ReadOnlyMemory<byte>(s.Buffer, 0, s.Used);
    }

    internal SegmentBuilder FirstSegment
    {
        get
        {
            if (Segments.Count == 0)
            {
                var s = new SegmentBuilder(0, _firstSegmentWords);
                s.Used = 8; // the root pointer
                _allocatedWords = s.Capacity / 8;
                Segments.Add(s);
            }
            return Segments[0];
        }
    }

    internal PointerBuilder RootPointer => new(this, FirstSegment, 0);

    /// <summary>The root pointer, to set to any kind of object.</summary>
    public AnyPointerBuilder Root => new(RootPointer);

    public StructBuilder InitRoot(int dataWords, int pointerCount) => RootPointer.InitStruct(dataWords, pointerCount);

    public T InitRoot<T>() where T : struct, IStructBuilderView<T> => T.FromStruct(RootPointer.InitStruct(T.DataWords, T.PointerCount));

    /// <summary>The root struct, allocated first if the root is still null.</summary>
    public T GetRoot<T>() where T : struct, IStructBuilderView<T> => T.FromStruct(RootPointer.GetStruct(T.DataWords, T.PointerCount, default));

    /// <summary>Deep-copies <paramref name="root"/> (from any message) as this message's root.</summary>
    public void SetRoot(StructReader root) => Copier.CopyStruct(root, RootPointer, canonical: false);

    /// <summary>
    /// Allocates <paramref name="words"/> words, preferably in <paramref name="segment"/>;
    /// on return <paramref name="segment"/> is where they were placed. Returns their byte offset.
    /// </summary>
    internal int Allocate(int words, ref SegmentBuilder segment)
    {
        if ((uint)words > MaxObjectWords)
        {
            ThrowHelper.InvalidOperation($"an object of {words} words is larger than Cap'n Proto allows");
        }
        int bytes = words * 8;
        if (segment.Free >= bytes)
        {
            int p = segment.Used;
            segment.Used += bytes;
            return p;
        }
        SegmentBuilder last = Segments[^1];
        if (last != segment && last.Free >= bytes)
        {
            segment = last;
            int p = last.Used;
            last.Used += bytes;
            return p;
        }
        // Grow geometrically, like the C++ implementation's GROW_HEURISTICALLY.
        long size = Math.Max(words, Math.Min(_allocatedWords, 1 << 26));
        var s = new SegmentBuilder(Segments.Count, (int)size);
        _allocatedWords += s.Capacity / 8;
        Segments.Add(s);
        _view = null;
        segment = s;
        s.Used = bytes;
        return 0;
    }

    /// <summary>A reader over what is built so far (no limits: the builder trusts its own content).</summary>
    internal MessageReader View
    {
        get
        {
            if (_view is null || _view.Segments.Length != Segments.Count)
            {
                var segs = new Segment[Segments.Count];
                for (int i = 0; i < segs.Length; i++)
                {
                    segs[i] = new Segment(Segments[i].Buffer, 0, Segments[i].Capacity);
                }
                _view = new MessageReader(segs, BuilderViewOptions, null);
            }
            return _view;
        }
    }

    internal static readonly ReaderOptions BuilderViewOptions = new()
    {
        TraversalLimitWords = long.MaxValue,
        NestingLimit = int.MaxValue,
        MaxMessageBytes = long.MaxValue,
        MaxSegments = int.MaxValue,
    };

    /// <summary>Reads the message built so far, in place.</summary>
    public MessageReader AsReader() => View;

    /// <summary>Empties the message for reuse, keeping the first segment.</summary>
    public void Clear()
    {
        for (int i = Segments.Count - 1; i >= 1; i--)
        {
            ArrayPool<byte>.Shared.Return(Segments[i].Buffer);
            Segments.RemoveAt(i);
        }
        if (Segments.Count == 1)
        {
            SegmentBuilder s = Segments[0];
            Array.Clear(s.Buffer, 0, s.Used);
            s.Used = 8;
            _allocatedWords = s.Capacity / 8;
        }
        // A view of the kept first segment stays valid: a recycled builder reads itself without a new reader.
        if (_view is { Segments.Length: 1 } && Segments.Count == 1)
        {
            _view.ResetTraversalLimit();
        }
        else
        {
            _view = null;
        }
    }

    public void Dispose()
    {
        foreach (SegmentBuilder s in Segments)
        {
            ArrayPool<byte>.Shared.Return(s.Buffer);
            s.Buffer = [];
        }
        Segments.Clear();
        _view = null;
    }
}
