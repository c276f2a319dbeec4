using System.Runtime.CompilerServices;

namespace Wetware.Capnp;

/// <summary>
/// The location of one pointer word in a message being read, with the nesting depth still
/// allowed below it. Following it bounds-checks the target and charges the traversal budget.
/// </summary>
internal readonly struct PointerReader
{
    public readonly MessageReader? Msg;
    public readonly byte[]? Buf;
    public readonly int Seg;
    public readonly int Pos;
    public readonly int Nesting;

    public PointerReader(MessageReader msg, byte[] buf, int seg, int pos, int nesting)
    {
        Msg = msg;
        Buf = buf;
        Seg = seg;
        Pos = pos;
        Nesting = nesting;
    }

    public ulong Word => Buf is null ? 0 : Mem.Word(Buf, Pos);

    public bool IsNull => Buf is null || Mem.Word(Buf, Pos) == 0;

    public PointerKind Kind
    {
        get
        {
            if (!Resolve(out _, out _, out _, out ulong tag))
            {
                return PointerKind.Null;
            }
            return (tag & 3) switch
            {
                0 => PointerKind.Struct,
                1 => PointerKind.List,
                _ => PointerKind.Capability,
            };
        }
    }

    /// <summary>
    /// Follows far pointers (encoding spec, "Inter-segment pointers"). Returns false for a null pointer.
    /// <paramref name="tag"/> is the word describing the object (kind and sizes); <paramref name="target"/>
    /// is the absolute byte offset of the object's content in <paramref name="buf"/>.
    /// </summary>
    public bool Resolve(out int seg, out byte[] buf, out long target, out ulong tag)
    {
        ulong w = Buf is null ? 0 : Mem.Word(Buf, Pos);
        if (w == 0)
        {
            seg = 0;
            buf = null!;
            target = 0;
            tag = 0;
            return false;
        }
        if ((w & 3) != 2)
        {
            seg = Seg;
            buf = Buf!;
            target = Pos + 8 + ((long)((int)(uint)w >> 2) << 3);
            tag = w;
            return true;
        }
        return ResolveFar(w, out seg, out buf, out target, out tag);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ResolveFar(ulong w, out int seg, out byte[] buf, out long target, out ulong tag)
    {
        Segment[] segments = Msg!.Segments;
        uint padSeg = (uint)(w >> 32);
        if (padSeg >= (uint)segments.Length)
        {
            ThrowHelper.Format($"far pointer into segment {padSeg}, but the message has {segments.Length}");
        }
        Segment s = segments[padSeg];
        long padPos = s.Start + ((long)((uint)w >> 3) << 3);
        bool isDouble = (w & 4) != 0;
        if (padPos + (isDouble ? 16 : 8) > s.End)
        {
            ThrowHelper.Format("far pointer landing pad out of bounds");
        }
        Msg.Charge(isDouble ? 2 : 1);
        ulong pad = Mem.Word(s.Array, (int)padPos);
        if (!isDouble)
        {
            if ((pad & 3) == 2)
            {
                ThrowHelper.Format("far pointer landing pad is another far pointer");
            }
            seg = (int)padSeg;
            buf = s.Array;
            target = padPos + 8 + ((long)((int)(uint)pad >> 2) << 3);
            tag = pad;
            return pad != 0;
        }
        if ((pad & 7) != 2)
        {
            ThrowHelper.Format("double-far landing pad does not start with a single far pointer");
        }
        uint contentSeg = (uint)(pad >> 32);
        if (contentSeg >= (uint)segments.Length)
        {
            ThrowHelper.Format($"double-far pointer into segment {contentSeg}, but the message has {segments.Length}");
        }
        ulong t = Mem.Word(s.Array, (int)padPos + 8);
        if ((t & 3) > 1 || (uint)t >> 2 != 0)
        {
            ThrowHelper.Format("double-far landing pad tag must be a struct or list pointer with zero offset");
        }
        Segment c = segments[contentSeg];
        seg = (int)contentSeg;
        buf = c.Array;
        target = c.Start + ((long)((uint)pad >> 3) << 3);
        tag = t;
        return true;
    }

    private void CheckNesting()
    {
        if (Nesting <= 0)
        {
            ThrowHelper.Limit(CapnpLimit.NestingDepth, Msg!.Options.NestingLimit);
        }
    }

    public StructReader ReadStruct()
    {
        ulong w = Buf is null ? 0 : Mem.Word(Buf, Pos);
        // Fast path: a near struct pointer within the segment.
        if ((w & 3) == 0 && w != 0 && Nesting > 0)
        {
            long target = Pos + 8 + ((long)((int)(uint)w >> 2) << 3);
            int dataWords = (ushort)(w >> 32);
            int ptrCount = (ushort)(w >> 48);
            int words = dataWords + ptrCount;
            ref Segment s = ref Msg!.Segments[Seg];
            if (target >= s.Start && target + words * 8L <= s.End)
            {
                Msg.Charge(words);
                int data = (int)target;
                return new StructReader(Msg, Buf!, Seg, data, dataWords * 8, data + dataWords * 8, ptrCount, Nesting - 1);
            }
        }
        return ReadStructSlow();
    }

    private StructReader ReadStructSlow()
    {
        if (!Resolve(out int seg, out byte[] buf, out long target, out ulong tag))
        {
            return default;
        }
        if ((tag & 3) != 0)
        {
            ThrowHelper.Format($"expected a struct pointer, found {KindName(tag)}");
        }
        CheckNesting();
        int dataWords = (ushort)(tag >> 32);
        int ptrCount = (ushort)(tag >> 48);
        Msg!.CheckBounds(seg, target, (long)(dataWords + ptrCount) * 8);
        Msg.Charge(dataWords + ptrCount);
        int data = (int)target;
        return new StructReader(Msg, buf, seg, data, dataWords * 8, data + dataWords * 8, ptrCount, Nesting - 1);
    }

    /// <summary>Reads a list, checking it can be read as a list of <paramref name="expected"/> elements (encoding spec, "Lists": upgrades).</summary>
    public ListReader ReadList(ElementSize expected) => ReadList(expected, null);

    /// <param name="exactly">When set, the list must have exactly <paramref name="expected"/> elements (text and data are byte lists, no upgrades).</param>
    private ListReader ReadList(ElementSize expected, string? exactly)
    {
        if (!Resolve(out int seg, out byte[] buf, out long target, out ulong tag))
        {
            return default;
        }
        if ((tag & 3) != 1 || (exactly is not null && (ElementSize)((tag >> 32) & 7) != expected))
        {
            ThrowHelper.Format(exactly is null
                ? $"expected a list pointer, found {KindName(tag)}"
                : $"expected {exactly} (a list of bytes), found {((tag & 3) == 1 ? $"a list of {(ElementSize)((tag >> 32) & 7)}" : KindName(tag))}");
        }
        CheckNesting();
        var size = (ElementSize)((tag >> 32) & 7);
        uint count = (uint)(tag >> 35);
        MessageReader msg = Msg!;
        if (size == ElementSize.InlineComposite)
        {
            long wordCount = count;
            msg.CheckBounds(seg, target, (wordCount + 1) * 8);
            msg.Charge(wordCount + 1);
            ulong t = Mem.Word(buf, (int)target);
            if ((t & 3) != 0)
            {
                ThrowHelper.Format("composite list tag is not a struct pointer");
            }
            uint elements = (uint)t >> 2;
            int dataWords = (ushort)(t >> 32);
            int ptrCount = (ushort)(t >> 48);
            long wordsPer = dataWords + ptrCount;
            if (elements * wordsPer > wordCount)
            {
                ThrowHelper.Format($"composite list of {elements} elements of {wordsPer} words overruns its {wordCount} words");
            }
            if (wordsPer == 0)
            {
                // A list of zero-sized structs may claim any length without data: charge a word each.
                msg.Charge(elements);
            }
            switch (expected)
            {
                case ElementSize.Bit:
                    ThrowHelper.Format("expected a list of Bool, found a list of structs");
                    break;
                case ElementSize.Pointer when ptrCount == 0:
                    ThrowHelper.Format("expected a list of pointers, found a list of structs without pointers");
                    break;
                case >= ElementSize.Byte and <= ElementSize.EightBytes when dataWords == 0:
                    ThrowHelper.Format("expected a list of data, found a list of structs without data");
                    break;
            }
            return new ListReader(msg, buf, seg, (int)target + 8, (int)elements, (int)wordsPer * 64, dataWords * 64, ptrCount, size, Nesting - 1);
        }
        int dataBits = ElementSizes.DataBits(size);
        int step = ElementSizes.StepBits(size);
        long words = ((long)count * step + 63) / 64;
        msg.CheckBounds(seg, target, words * 8);
        msg.Charge(words);
        if (size == ElementSize.Void)
        {
            msg.Charge(count);
        }
        if (expected != size && expected != ElementSize.Void)
        {
            bool ok = expected switch
            {
                ElementSize.Bit => false,
                ElementSize.Pointer => size == ElementSize.Pointer,
                ElementSize.InlineComposite => size != ElementSize.Bit,
                _ => size != ElementSize.Bit && size != ElementSize.Pointer && dataBits >= ElementSizes.DataBits(expected),
            };
            if (!ok)
            {
                ThrowHelper.Format($"expected a list of {expected} elements, found a list of {size}");
            }
        }
        return new ListReader(msg, buf, seg, (int)target, (int)count, step, dataBits, ElementSizes.PointerCount(size), size, Nesting - 1);
    }

    public Text ReadText()
    {
        ulong w = Buf is null ? 0 : Mem.Word(Buf, Pos);
        // Fast path: a near pointer to a byte list in the same segment (what every builder writes).
        if ((w & 0x7_0000_0003ul) == 0x2_0000_0001ul)
        {
            long target = Pos + 8 + ((long)((int)(uint)w >> 2) << 3);
            int count = (int)(w >> 35);
            ref Segment s = ref Msg!.Segments[Seg];
            if (target >= s.Start && target + count <= s.End && count > 0 && Nesting > 0)
            {
                Msg.Charge((count + 7) >> 3);
                if (Buf![(int)target + count - 1] != 0)
                {
                    ThrowHelper.Format("text is not NUL-terminated");
                }
                return new Text(Buf, (int)target, count - 1);
            }
        }
        return ReadTextSlow();
    }

    private Text ReadTextSlow()
    {
        ListReader l = ReadBytes("text");
        if (l.Buf is null)
        {
            return default;
        }
        if (l.Count == 0 || l.Buf[l.Start + l.Count - 1] != 0)
        {
            ThrowHelper.Format("text is not NUL-terminated");
        }
        return new Text(l.Buf, l.Start, l.Count - 1);
    }

    public Data ReadData()
    {
        ListReader l = ReadBytes("data");
        return l.Buf is null ? default : new Data(l.Buf, l.Start, l.Count);
    }

    private ListReader ReadBytes(string what) => ReadList(ElementSize.Byte, what);

    /// <summary>The capability table index of a capability pointer, or null for a null pointer.</summary>
    public uint? ReadCapability()
    {
        if (!Resolve(out _, out _, out _, out ulong tag))
        {
            return null;
        }
        if ((tag & 0xFFFF_FFFF) != 3)
        {
            ThrowHelper.Format($"expected a capability pointer, found {KindName(tag)}");
        }
        return (uint)(tag >> 32);
    }

    internal static string KindName(ulong tag) => (tag & 3) switch
    {
        0 => "a struct pointer",
        1 => "a list pointer",
        2 => "a far pointer",
        _ => (tag & 0xFFFF_FFFF) == 3 ? "a capability pointer" : "an unknown 'other' pointer",
    };
}
