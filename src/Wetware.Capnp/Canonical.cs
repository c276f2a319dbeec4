namespace Wetware.Capnp;

/// <summary>
/// The canonical form (encoding spec, "Canonicalization"): one segment, no far pointers,
/// objects in pre-order, every section truncated. Two equal values have byte-identical
/// canonical forms, so they can be hashed and signed.
/// </summary>
public static class Canonical
{
    /// <summary>The canonical words of a message whose root is <paramref name="root"/>: the flat segment, without a frame header.</summary>
    public static byte[] Canonicalize(StructReader root)
    {
        long words = 1 + Copier.StructSize(root, canonical: true);
        if (words > MessageBuilder.MaxObjectWords)
        {
            ThrowHelper.InvalidOperation($"a canonical message of {words} words does not fit one segment");
        }
        using var message = new MessageBuilder((int)words);
        Copier.CopyStruct(root, message.RootPointer, canonical: true);
        if (message.SegmentCount != 1 || message.SizeInWords != words)
        {
            ThrowHelper.InvalidOperation("canonical layout did not come out as one exactly-sized segment");
        }
        return message.GetSegment(0).ToArray();
    }

    /// <summary>
    /// True when the message is in canonical form. Reads every word at most once, so it is
    /// linear in the message size; nesting deeper than the reader's limit raises
    /// <see cref="CapnpLimitException"/>.
    /// </summary>
    public static bool IsCanonical(MessageReader message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Segments.Length != 1)
        {
            return false;
        }
        Segment s = message.Segments[0];
        if (s.End - s.Start < 8)
        {
            return false;
        }
        var checker = new Checker(s.Array, s.End, message.Options.NestingLimit);
        long head = s.Start + 8;
        return checker.Pointer(s.Start, ref head, message.Options.NestingLimit) && head == s.End;
    }

    private readonly struct Checker(byte[] buf, long end, int nestingLimit)
    {
        private ulong Word(long pos) => Mem.Word(buf, (int)pos);

        public bool Pointer(long pos, ref long head, int nesting)
        {
            ulong w = Word(pos);
            if (w == 0)
            {
                return true;
            }
            if (nesting <= 0)
            {
                ThrowHelper.Limit(CapnpLimit.NestingDepth, nestingLimit);
            }
            uint kind = (uint)w & 3;
            if (kind == 2)
            {
                return false; // no far pointers in canonical form
            }
            if (kind == 3)
            {
                return (w & 0xFFFF_FFFF) == 3; // a capability is allowed, an unknown "other" pointer is not
            }
            long target = pos + 8 + ((long)((int)(uint)w >> 2) << 3);
            if (kind == 0)
            {
                int dw = (ushort)(w >> 32);
                int pc = (ushort)(w >> 48);
                if (dw + pc == 0)
                {
                    // A zero-sized struct canonically points just before itself... or anywhere; accept only the in-place form.
                    return (uint)w == 0xFFFF_FFFC;
                }
                if (target != head || target + (dw + pc) * 8L > end)
                {
                    return false;
                }
                head = target + (dw + pc) * 8L;
                return Struct(target, dw, pc, ref head, nesting - 1, requireTruncated: true);
            }
            var size = (ElementSize)((w >> 32) & 7);
            long count = (uint)(w >> 35);
            if (target != head)
            {
                return false;
            }
            if (size == ElementSize.InlineComposite)
            {
                if (target + 8 + count * 8 > end)
                {
                    return false;
                }
                ulong tag = Word(target);
                if ((tag & 3) != 0)
                {
                    return false;
                }
                long elements = (uint)tag >> 2;
                int dw = (ushort)(tag >> 32);
                int pc = (ushort)(tag >> 48);
                if (elements * (dw + pc) != count)
                {
                    return false;
                }
                head = target + 8 + count * 8;
                bool dataNeeded = dw == 0, ptrNeeded = pc == 0;
                long e = target + 8;
                for (long i = 0; i < elements; i++, e += (dw + pc) * 8L)
                {
                    dataNeeded |= dw > 0 && Word(e + (dw - 1) * 8L) != 0;
                    ptrNeeded |= pc > 0 && Word(e + (dw + pc - 1) * 8L) != 0;
                    if (!Struct(e, dw, pc, ref head, nesting - 1, requireTruncated: false))
                    {
                        return false;
                    }
                }
                return dataNeeded && ptrNeeded;
            }
            if (size == ElementSize.Pointer)
            {
                if (target + count * 8 > end)
                {
                    return false;
                }
                head = target + count * 8;
                for (long i = 0; i < count; i++)
                {
                    if (!Pointer(target + i * 8, ref head, nesting - 1))
                    {
                        return false;
                    }
                }
                return true;
            }
            long bits = count * ElementSizes.DataBits(size);
            long words = (bits + 63) / 64;
            if (target + words * 8 > end)
            {
                return false;
            }
            head = target + words * 8;
            // Padding after the last element must be zero.
            long firstPadByte = bits / 8;
            if (bits % 8 != 0 && (buf[(int)(target + firstPadByte)] >> (int)(bits % 8)) != 0)
            {
                return false;
            }
            long from = target + (bits + 7) / 8;
            if (buf.AsSpan((int)from, (int)(head - from)).ContainsAnyExcept((byte)0))
            {
                return false;
            }
            return true;
        }

        private bool Struct(long data, int dw, int pc, ref long head, int nesting, bool requireTruncated)
        {
            if (requireTruncated)
            {
                if (dw > 0 && Word(data + (dw - 1) * 8L) == 0)
                {
                    return false;
                }
                if (pc > 0 && Word(data + (dw + pc - 1) * 8L) == 0)
                {
                    return false;
                }
            }
            for (int i = 0; i < pc; i++)
            {
                if (!Pointer(data + (dw + i) * 8L, ref head, nesting))
                {
                    return false;
                }
            }
            return true;
        }
    }
}
