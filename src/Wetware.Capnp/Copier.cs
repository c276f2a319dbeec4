namespace Wetware.Capnp;

/// <summary>
/// Deep copies between messages, and the canonical layout (encoding spec, "Canonicalization"):
/// with <c>canonical</c> set, objects are laid out in pre-order, struct sections are truncated
/// to their last non-zero data word and last non-null pointer, and a struct list's elements
/// all take the largest truncated size among them.
/// </summary>
internal static class Copier
{
    public static void CopyPointer(PointerReader src, PointerBuilder dst, bool canonical)
    {
        if (!src.Resolve(out _, out _, out _, out ulong tag))
        {
            dst.Clear();
            return;
        }
        switch (tag & 3)
        {
            case 0:
                CopyStruct(src.ReadStruct(), dst, canonical);
                break;
            case 1:
                CopyList(src.ReadList(ElementSize.Void), dst, canonical);
                break;
            default:
                dst.SetCapability(src.ReadCapability());
                break;
        }
    }

    public static void CopyStruct(StructReader src, PointerBuilder dst, bool canonical)
    {
        if (src.IsNull)
        {
            dst.Clear();
            return;
        }
        var (dw, pc) = canonical ? Truncated(src) : ((src.DataLength + 7) / 8, src.PtrCount);
        CopyStructContent(src, dst.InitStruct(dw, pc), canonical);
    }

    /// <summary>Copies the data and pointers of <paramref name="src"/> that fit into <paramref name="dst"/>.</summary>
    public static void CopyStructContent(StructReader src, StructBuilder dst, bool canonical)
    {
        if (src.IsNull)
        {
            return;
        }
        int n = Math.Min(src.DataLength, dst.DataLength);
        src.Buf.AsSpan(src.Data, n).CopyTo(dst.Seg.Buffer.AsSpan(dst.Data));
        int pc = Math.Min(src.PtrCount, dst.PtrCount);
        for (int i = 0; i < pc; i++)
        {
            CopyPointer(src.Pointer(i), dst.Pointer(i), canonical);
        }
    }

    public static void CopyList(ListReader src, PointerBuilder dst, bool canonical)
    {
        if (src.IsNull)
        {
            dst.Clear();
            return;
        }
        switch (src.Size)
        {
            case ElementSize.InlineComposite:
                {
                    var (dw, pc) = canonical ? TruncatedElements(src) : (src.ElementDataBits / 64, src.ElementPointerCount);
                    ListBuilder l = dst.InitStructList(src.Count, dw, pc);
                    for (int i = 0; i < src.Count; i++)
                    {
                        CopyStructContent(src.GetStruct(i), l.GetStruct(i), canonical);
                    }
                    break;
                }
            case ElementSize.Pointer:
                {
                    ListBuilder l = dst.InitList(ElementSize.Pointer, src.Count);
                    for (int i = 0; i < src.Count; i++)
                    {
                        CopyPointer(src.Pointer(i), l.Pointer(i), canonical);
                    }
                    break;
                }
            default:
                {
                    ListBuilder l = dst.InitList(src.Size, src.Count);
                    long bits = (long)src.Count * src.StepBits;
                    int bytes = (int)((bits + 7) / 8);
                    Span<byte> to = l.Seg.Buffer.AsSpan(l.Start, bytes);
                    src.Buf.AsSpan(src.Start, bytes).CopyTo(to);
                    if (bits % 8 != 0)
                    {
                        // Bits past the end of a Bool list are padding and must not leak through.
                        to[^1] &= (byte)((1 << (int)(bits % 8)) - 1);
                    }
                    break;
                }
        }
    }

    /// <summary>Moves a pointer within one message, keeping its target where it is.</summary>
    public static void TransferPointer(PointerBuilder src, PointerBuilder dst)
    {
        ulong w = src.Word;
        uint kind = (uint)w & 3;
        if (w == 0 || kind >= 2)
        {
            // Far and capability pointers do not depend on where they sit.
            dst.Word = w;
        }
        else if (kind == 0 && (w >> 32) == 0)
        {
            dst.Word = 0xFFFF_FFFCul; // zero-sized struct
        }
        else
        {
            long target = src.Pos + 8 + ((long)((int)(uint)w >> 2) << 3);
            dst.PointAt(src.Seg, (int)target, kind, (uint)(w >> 32));
        }
        src.Clear();
    }

    /// <summary>Words the target of <paramref name="p"/> occupies once copied (canonically or not).</summary>
    public static long SizeInWords(PointerReader p, bool canonical)
    {
        if (!p.Resolve(out _, out _, out _, out ulong tag))
        {
            return 0;
        }
        return (tag & 3) switch
        {
            0 => StructSize(p.ReadStruct(), canonical),
            1 => ListSize(p.ReadList(ElementSize.Void), canonical),
            _ => 0,
        };
    }

    public static long StructSize(StructReader s, bool canonical)
    {
        if (s.IsNull)
        {
            return 0;
        }
        var (dw, pc) = canonical ? Truncated(s) : ((s.DataLength + 7) / 8, s.PtrCount);
        long total = dw + pc;
        for (int i = 0; i < pc; i++)
        {
            total += SizeInWords(s.Pointer(i), canonical);
        }
        return total;
    }

    private static long ListSize(ListReader l, bool canonical)
    {
        switch (l.Size)
        {
            case ElementSize.InlineComposite:
                {
                    var (dw, pc) = canonical ? TruncatedElements(l) : (l.ElementDataBits / 64, l.ElementPointerCount);
                    long total = 1 + (long)l.Count * (dw + pc);
                    for (int i = 0; i < l.Count; i++)
                    {
                        StructReader e = l.GetStruct(i);
                        for (int j = 0; j < pc; j++)
                        {
                            total += SizeInWords(e.Pointer(j), canonical);
                        }
                    }
                    return total;
                }
            case ElementSize.Pointer:
                {
                    long total = l.Count;
                    for (int i = 0; i < l.Count; i++)
                    {
                        total += SizeInWords(l.Pointer(i), canonical);
                    }
                    return total;
                }
            default:
                return ((long)l.Count * l.StepBits + 63) / 64;
        }
    }

    /// <summary>Data words up to the last non-zero one, pointers up to the last non-null one.</summary>
    public static (int DataWords, int PointerCount) Truncated(StructReader s)
    {
        ReadOnlySpan<byte> data = s.Buf.AsSpan(s.Data, s.DataLength);
        int last = data.LastIndexOfAnyExcept((byte)0);
        int dw = (last + 8) / 8;
        int pc = s.PtrCount;
        while (pc > 0 && Mem.Word(s.Buf!, s.Ptrs + (pc - 1) * 8) == 0)
        {
            pc--;
        }
        return (dw, pc);
    }

    private static (int DataWords, int PointerCount) TruncatedElements(ListReader l)
    {
        int dw = 0, pc = 0;
        for (int i = 0; i < l.Count; i++)
        {
            var (d, p) = Truncated(l.GetStruct(i));
            dw = Math.Max(dw, d);
            pc = Math.Max(pc, p);
        }
        return (dw, pc);
    }
}
