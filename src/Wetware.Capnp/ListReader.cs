using System.Runtime.CompilerServices;

namespace Wetware.Capnp;

/// <summary>
/// A zero-copy view of a list. Elements are addressed by step, so a list written with a
/// larger element (a struct list read as a list of its first field, or a newer struct
/// version) reads correctly (encoding spec, "Lists": compatibility).
/// </summary>
public readonly struct ListReader
{
    internal readonly MessageReader? Msg;
    internal readonly byte[]? Buf;
    internal readonly int Seg;
    internal readonly int Start;
    internal readonly int Length;
    internal readonly int StepBits;
    internal readonly int ElementDataBits;
    internal readonly int ElementPointerCount;
    internal readonly ElementSize Size;
    internal readonly int Nesting;

    internal ListReader(MessageReader msg, byte[] buf, int seg, int start, int count, int stepBits, int dataBits, int ptrCount, ElementSize size, int nesting)
    {
        Msg = msg;
        Buf = buf;
        Seg = seg;
        Start = start;
        Length = count;
        StepBits = stepBits;
        ElementDataBits = dataBits;
        ElementPointerCount = ptrCount;
        Size = size;
        Nesting = nesting;
    }

    public int Count => Length;

    public bool IsNull => Buf is null;

    /// <summary>The element size as encoded in the message.</summary>
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

    /// <summary>Reads element <paramref name="index"/> as a primitive of type <typeparamref name="T"/> (1, 2, 4 or 8 bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(int index) where T : unmanaged
    {
        int off = Offset(index);
        return Unsafe.SizeOf<T>() * 8 <= ElementDataBits ? Mem.Read<T>(Buf!, off) : default;
    }

    public bool ReadBool(int index)
    {
        if ((uint)index >= (uint)Length)
        {
            ThrowHelper.IndexOutOfRange(index, Length);
        }
        if (ElementDataBits == 0)
        {
            return false;
        }
        long bit = (long)index * StepBits;
        return (Buf![Start + (int)(bit >> 3)] & (1 << (int)(bit & 7))) != 0;
    }

    public StructReader GetStruct(int index)
    {
        if (Size == ElementSize.Bit)
        {
            ThrowHelper.Format("a list of Bool cannot be read as a list of structs");
        }
        int off = Offset(index);
        if (Nesting <= 0)
        {
            ThrowHelper.Limit(CapnpLimit.NestingDepth, Msg!.Options.NestingLimit);
        }
        int dataBytes = ElementDataBits >> 3;
        return new StructReader(Msg!, Buf!, Seg, off, dataBytes, off + dataBytes, ElementPointerCount, Nesting - 1);
    }

    internal PointerReader Pointer(int index)
    {
        int off = Offset(index);
        return ElementPointerCount == 0 ? default : new PointerReader(Msg!, Buf!, Seg, off + (ElementDataBits >> 3), Nesting);
    }

    public Text GetText(int index) => Pointer(index).ReadText();

    public Data GetData(int index) => Pointer(index).ReadData();

    public ListReader GetList(int index, ElementSize expected) => Pointer(index).ReadList(expected);

    public AnyPointerReader GetAnyPointer(int index) => new(Pointer(index));

    public uint? GetCapability(int index) => Pointer(index).ReadCapability();
}
