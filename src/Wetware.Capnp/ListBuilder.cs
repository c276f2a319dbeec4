using System.Runtime.CompilerServices;

namespace Wetware.Capnp;

/// <summary>A list being built, in place in its segment.</summary>
public readonly struct ListBuilder
{
    internal readonly MessageBuilder Msg;
    internal readonly SegmentBuilder Seg;
    internal readonly int Start;
    internal readonly int Length;
    internal readonly int StepBits;
    internal readonly int ElementDataBits;
    internal readonly int ElementPointerCount;
    internal readonly ElementSize Size;

    internal ListBuilder(MessageBuilder msg, SegmentBuilder seg, int start, int count, int stepBits, int dataBits, int ptrCount, ElementSize size)
    {
        Msg = msg;
        Seg = seg;
        Start = start;
        Length = count;
        StepBits = stepBits;
        ElementDataBits = dataBits;
        ElementPointerCount = ptrCount;
        Size = size;
    }

    public int Count => Length;

    public bool IsNull => Seg is null;

    public ElementSize ElementSize => Size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Offset(int index)
    {
        if ((uint)index >= (uint)Length)
        {
            ThrowHelper.IndexOutOfRange(index, Length);
        }
        return Start + (int)((long)index * StepBits >> 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(int index) where T : unmanaged
    {
        int off = Offset(index);
        return Unsafe.SizeOf<T>() * 8 <= ElementDataBits ? Mem.Read<T>(Seg.Buffer, off) : default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write<T>(int index, T value) where T : unmanaged
    {
        int off = Offset(index);
        if (Unsafe.SizeOf<T>() * 8 > ElementDataBits)
        {
            ThrowHelper.InvalidOperation($"a {Unsafe.SizeOf<T>()}-byte value does not fit a list of {Size}");
        }
        Mem.Write(Seg.Buffer, off, value);
    }

    public bool ReadBool(int index)
    {
        Offset(index);
        if (ElementDataBits == 0)
        {
            return false;
        }
        long bit = (long)index * StepBits;
        return (Seg.Buffer[Start + (int)(bit >> 3)] & (1 << (int)(bit & 7))) != 0;
    }

    public void WriteBool(int index, bool value)
    {
        Offset(index);
        if (ElementDataBits == 0)
        {
            ThrowHelper.InvalidOperation($"a Bool does not fit a list of {Size}");
        }
        long bit = (long)index * StepBits;
        ref byte b = ref Seg.Buffer[Start + (int)(bit >> 3)];
        int mask = 1 << (int)(bit & 7);
        b = (byte)(value ? b | mask : b & ~mask);
    }

    public StructBuilder GetStruct(int index)
    {
        if (Size == ElementSize.Bit)
        {
            ThrowHelper.InvalidOperation("a list of Bool has no struct elements");
        }
        int off = Offset(index);
        int dataBytes = ElementDataBits >> 3;
        return new StructBuilder(Msg, Seg, off, dataBytes, off + dataBytes, ElementPointerCount);
    }

    internal PointerBuilder Pointer(int index)
    {
        int off = Offset(index);
        if (ElementPointerCount == 0)
        {
            ThrowHelper.InvalidOperation($"a list of {Size} has no pointer elements");
        }
        return new PointerBuilder(Msg, Seg, off + (ElementDataBits >> 3));
    }

    public void SetText(int index, string? value)
    {
        if (value is null)
        {
            Pointer(index).Clear();
        }
        else
        {
            Pointer(index).SetText(value);
        }
    }

    public void SetTextUtf8(int index, ReadOnlySpan<byte> utf8) => Pointer(index).SetTextUtf8(utf8);

    public void SetData(int index, ReadOnlySpan<byte> value) => Pointer(index).SetData(value);

    public Text ReadText(int index) => AsReader().GetText(index);

    public Data ReadData(int index) => AsReader().GetData(index);

    public ListBuilder InitList(int index, ElementSize size, int count) => Pointer(index).InitList(size, count);

    public ListBuilder InitStructList(int index, int count, int dataWords, int pointerCount) => Pointer(index).InitStructList(count, dataWords, pointerCount);

    public ListBuilder GetList(int index, ElementSize expected) => Pointer(index).GetList(expected, default);

    public AnyPointerBuilder GetAnyPointer(int index) => new(Pointer(index));

    public void SetCapability(int index, uint? capabilityIndex) => Pointer(index).SetCapability(capabilityIndex);

    public void SetStruct(int index, StructReader value) => Copier.CopyStruct(value, Pointer(index), canonical: false);

    /// <summary>Reads this list back, in place.</summary>
    public ListReader AsReader() =>
        Seg is null ? default : new ListReader(Msg.View, Seg.Buffer, Seg.Id, Start, Length, StepBits, ElementDataBits, ElementPointerCount, Size, int.MaxValue);
}
