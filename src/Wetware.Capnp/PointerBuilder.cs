using System.Text;

namespace Wetware.Capnp;

/// <summary>The location of one pointer word in a message being built.</summary>
internal readonly struct PointerBuilder
{
    public readonly MessageBuilder Msg;
    public readonly SegmentBuilder Seg;
    public readonly int Pos;

    public PointerBuilder(MessageBuilder msg, SegmentBuilder seg, int pos)
    {
        Msg = msg;
        Seg = seg;
        Pos = pos;
    }

    public ulong Word
    {
        get => Mem.Word(Seg.Buffer, Pos);
        set => Mem.Write(Seg.Buffer, Pos, value);
    }

    public bool IsNull => Word == 0;

    /// <summary>A reader of the same pointer, to read back what was built.</summary>
    public PointerReader AsReader() => new(Msg.View, Seg.Buffer, Seg.Id, Pos, int.MaxValue);

    public void Clear() => Word = 0;

    /// <summary>
    /// Allocates <paramref name="words"/> for a new object and points this pointer at it:
    /// directly when it lands in the pointer's segment, else through a one-word landing pad
    /// placed just before the object in the other segment.
    /// </summary>
    /// <param name="kind">0 struct, 1 list.</param>
    /// <param name="upper">The upper 32 bits of the pointer (sizes).</param>
    public (SegmentBuilder Segment, int Position) AllocateTarget(int words, uint kind, uint upper)
    {
        SegmentBuilder seg = Seg;
        if (words == 0 && kind == 0)
        {
            // A zero-sized struct points just before itself (offset -1), so the pointer is not null.
            Word = 0xFFFF_FFFCul | ((ulong)upper << 32);
            return (Seg, Pos + 8);
        }
        if (Seg.Free >= words * 8)
        {
            int p = Msg.Allocate(words, ref seg);
            Word = Encode(p - (Pos + 8), kind, upper);
            return (seg, p);
        }
        int pad = Msg.Allocate(words + 1, ref seg);
        Mem.Write(seg.Buffer, pad, Encode(0, kind, upper));
        Word = Far(seg, pad, doubleFar: false);
        return (seg, pad + 8);
    }

    /// <summary>Points this pointer at an object that already exists elsewhere (in any segment).</summary>
    public void PointAt(SegmentBuilder targetSeg, int target, uint kind, uint upper)
    {
        if (targetSeg == Seg)
        {
            Word = Encode(target - (Pos + 8), kind, upper);
            return;
        }
        SegmentBuilder padSeg = targetSeg;
        if (targetSeg.Free >= 8)
        {
            // Single far pointer: the landing pad can't sit right before the object, so it points at it.
            int pad = Msg.Allocate(1, ref padSeg);
            if (padSeg == targetSeg)
            {
                Mem.Write(padSeg.Buffer, pad, Encode(target - (pad + 8), kind, upper));
                Word = Far(padSeg, pad, doubleFar: false);
                return;
            }
            // Allocation went elsewhere after all: fall back to a double-far pad there.
            WriteDoubleFar(padSeg, pad, targetSeg, target, kind, upper, padAlreadyOneWord: true);
            return;
        }
        int dpad = Msg.Allocate(2, ref padSeg);
        WriteDoubleFar(padSeg, dpad, targetSeg, target, kind, upper, padAlreadyOneWord: false);
    }

    private void WriteDoubleFar(SegmentBuilder padSeg, int pad, SegmentBuilder targetSeg, int target, uint kind, uint upper, bool padAlreadyOneWord)
    {
        if (padAlreadyOneWord)
        {
            // Need two contiguous words; take a fresh pair.
            pad = Msg.Allocate(2, ref padSeg);
        }
        Mem.Write(padSeg.Buffer, pad, ((ulong)(uint)(target / 8) << 3) | 2 | ((ulong)(uint)targetSeg.Id << 32));
        Mem.Write(padSeg.Buffer, pad + 8, (ulong)kind | ((ulong)upper << 32));
        Word = Far(padSeg, pad, doubleFar: true);
    }

    private static ulong Encode(int byteOffset, uint kind, uint upper) =>
        ((uint)((byteOffset >> 3) << 2) | kind) | ((ulong)upper << 32);

    private static ulong Far(SegmentBuilder seg, int pad, bool doubleFar) =>
        ((ulong)(uint)(pad / 8) << 3) | (doubleFar ? 6ul : 2ul) | ((ulong)(uint)seg.Id << 32);

    public StructBuilder InitStruct(int dataWords, int pointerCount)
    {
        if ((uint)dataWords > ushort.MaxValue || (uint)pointerCount > ushort.MaxValue)
        {
            ThrowHelper.InvalidOperation("a struct has at most 65535 data words and 65535 pointers");
        }
        var (seg, p) = AllocateTarget(dataWords + pointerCount, 0, (uint)dataWords | ((uint)pointerCount << 16));
        return new StructBuilder(Msg, seg, p, dataWords * 8, p + dataWords * 8, pointerCount);
    }

    /// <summary>Resolves this pointer inside the builder (following far pointers).</summary>
    private bool Locate(out SegmentBuilder seg, out int target, out ulong tag)
    {
        ulong w = Word;
        if (w == 0 || (w & 3) != 2)
        {
            // Null, or a near pointer (the usual case): resolved here, without a reader (and a view of the message).
            seg = Seg;
            target = w == 0 ? 0 : (int)(Pos + 8 + ((long)((int)(uint)w >> 2) << 3));
            tag = w;
            return w != 0;
        }
        PointerReader r = AsReader();
        if (!r.Resolve(out int segId, out _, out long t, out tag))
        {
            seg = Seg;
            target = 0;
            return false;
        }
        seg = Msg.Segments[segId];
        target = (int)t;
        return true;
    }

    /// <summary>
    /// The struct this pointer refers to, with at least the given sizes. A null pointer gets a copy of
    /// <paramref name="defaultValue"/> (or an empty struct); a smaller struct (older schema) is
    /// moved into a new allocation of the full size.
    /// </summary>
    public StructBuilder GetStruct(int dataWords, int pointerCount, StructReader defaultValue)
    {
        if (!Locate(out SegmentBuilder seg, out int target, out ulong tag))
        {
            StructBuilder fresh = InitStruct(dataWords, pointerCount);
            if (!defaultValue.IsNull)
            {
                Copier.CopyStructContent(defaultValue, fresh, canonical: false);
            }
            return fresh;
        }
        if ((tag & 3) != 0)
        {
            ThrowHelper.InvalidOperation($"expected a struct pointer, found {PointerReader.KindName(tag)}");
        }
        int dw = (ushort)(tag >> 32);
        int pc = (ushort)(tag >> 48);
        if (dw >= dataWords && pc >= pointerCount)
        {
            return new StructBuilder(Msg, seg, target, dw * 8, target + dw * 8, pc);
        }
        var old = new StructBuilder(Msg, seg, target, dw * 8, target + dw * 8, pc);
        StructBuilder grown = InitStruct(Math.Max(dw, dataWords), Math.Max(pc, pointerCount));
        old.MoveContentTo(grown);
        return grown;
    }

    public ListBuilder InitList(ElementSize size, int count)
    {
        if (size == ElementSize.InlineComposite)
        {
            ThrowHelper.InvalidOperation("use InitStructList for lists of structs");
        }
        if ((uint)count >= 1 << 29)
        {
            ThrowHelper.InvalidOperation($"a list has fewer than 2^29 elements, not {count}");
        }
        int step = ElementSizes.StepBits(size);
        int words = (int)(((long)count * step + 63) / 64);
        var (seg, p) = AllocateTarget(words, 1, (uint)size | ((uint)count << 3));
        return new ListBuilder(Msg, seg, p, count, step, ElementSizes.DataBits(size), ElementSizes.PointerCount(size), size);
    }

    public ListBuilder InitStructList(int count, int dataWords, int pointerCount)
    {
        long wordsPer = dataWords + pointerCount;
        long total = count * wordsPer;
        if ((uint)count >= 1 << 29 || total >= 1 << 29 || (uint)dataWords > ushort.MaxValue || (uint)pointerCount > ushort.MaxValue)
        {
            ThrowHelper.InvalidOperation($"a list of {count} structs of {wordsPer} words is larger than Cap'n Proto allows");
        }
        var (seg, p) = AllocateTarget((int)total + 1, 1, (uint)ElementSize.InlineComposite | ((uint)total << 3));
        Mem.Write(seg.Buffer, p, ((ulong)(uint)count << 2) | ((ulong)(uint)dataWords << 32) | ((ulong)(uint)pointerCount << 48));
        return new ListBuilder(Msg, seg, p + 8, count, (int)wordsPer * 64, dataWords * 64, pointerCount, ElementSize.InlineComposite);
    }

    /// <summary>The list this pointer refers to (an empty list if null; <paramref name="defaultValue"/> is copied in first if given).</summary>
    public ListBuilder GetList(ElementSize expected, ListReader defaultValue)
    {
        if (!Locate(out SegmentBuilder seg, out int target, out ulong tag))
        {
            if (defaultValue.IsNull)
            {
                return default;
            }
            Copier.CopyList(defaultValue, this, canonical: false);
            Locate(out seg, out target, out tag);
        }
        if ((tag & 3) != 1)
        {
            ThrowHelper.InvalidOperation($"expected a list pointer, found {PointerReader.KindName(tag)}");
        }
        var size = (ElementSize)((tag >> 32) & 7);
        int count = (int)(tag >> 35);
        if (size == ElementSize.InlineComposite)
        {
            ulong t = Mem.Word(seg.Buffer, target);
            int dw = (ushort)(t >> 32);
            int pc = (ushort)(t >> 48);
            if (expected is ElementSize.Bit)
            {
                ThrowHelper.InvalidOperation("expected a list of Bool, found a list of structs");
            }
            return new ListBuilder(Msg, seg, target + 8, (int)((uint)t >> 2), (dw + pc) * 64, dw * 64, pc, size);
        }
        if (expected != size && expected is not ElementSize.Void and not ElementSize.InlineComposite)
        {
            ThrowHelper.InvalidOperation($"expected a list of {expected} elements, found a list of {size}");
        }
        return new ListBuilder(Msg, seg, target, count, ElementSizes.StepBits(size), ElementSizes.DataBits(size), ElementSizes.PointerCount(size), size);
    }

    public void SetText(ReadOnlySpan<char> text)
    {
        // Fast path: encode straight into the free space of this segment (zeroed, so the NUL
        // and padding are already there), then keep only the words used: one pass, no count.
        int max = text.Length * 3 + 1;
        if (text.Length <= 16 * 1024 && Seg.Free >= max)
        {
            int start = Seg.Used;
            int written = Encoding.UTF8.GetBytes(text, Seg.Buffer.AsSpan(start, max - 1));
            Seg.Used = start + ((written + 8) & ~7);
            Word = Encode(start - (Pos + 8), 1, (uint)ElementSize.Byte | ((uint)(written + 1) << 3));
            return;
        }
        int n = Encoding.UTF8.GetByteCount(text);
        ListBuilder l = InitList(ElementSize.Byte, n + 1);
        Encoding.UTF8.GetBytes(text, l.Seg.Buffer.AsSpan(l.Start, n));
    }

    public void SetTextUtf8(ReadOnlySpan<byte> utf8)
    {
        ListBuilder l = InitList(ElementSize.Byte, utf8.Length + 1);
        utf8.CopyTo(l.Seg.Buffer.AsSpan(l.Start));
    }

    public void SetData(ReadOnlySpan<byte> data)
    {
        ListBuilder l = InitList(ElementSize.Byte, data.Length);
        data.CopyTo(l.Seg.Buffer.AsSpan(l.Start));
    }

    public void SetCapability(uint? index) => Word = index is uint i ? 3ul | ((ulong)i << 32) : 0;
}
