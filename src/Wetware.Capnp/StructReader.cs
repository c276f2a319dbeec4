using System.Runtime.CompilerServices;

namespace Wetware.Capnp;

/// <summary>
/// A zero-copy view of one struct in a message. Fields beyond the struct's sections read as
/// zero (a message from an older schema), which generated code XORs with the field's default.
/// The default value (<c>default(StructReader)</c>) is an empty struct: every field reads as its default.
/// </summary>
public readonly struct StructReader
{
    internal readonly MessageReader? Msg;
    internal readonly byte[]? Buf;
    internal readonly int Seg;
    internal readonly int Data;
    internal readonly int DataLength;
    internal readonly int Ptrs;
    internal readonly int PtrCount;
    internal readonly int Nesting;

    internal StructReader(MessageReader msg, byte[] buf, int seg, int data, int dataBytes, int ptrs, int ptrCount, int nesting)
    {
        Msg = msg;
        Buf = buf;
        Seg = seg;
        Data = data;
        DataLength = dataBytes;
        Ptrs = ptrs;
        PtrCount = ptrCount;
        Nesting = nesting;
    }

    /// <summary>True when read from a null pointer (all fields read as defaults).</summary>
    public bool IsNull => Buf is null;

    /// <summary>Size of the data section in bytes.</summary>
    public int DataBytes => DataLength;

    /// <summary>Number of pointers in the pointer section.</summary>
    public int PointerCount => PtrCount;

    /// <summary>The message this struct belongs to (null for a null struct).</summary>
    public MessageReader? Message => Msg;

    /// <summary>The data section bytes.</summary>
    public ReadOnlySpan<byte> DataSection => Buf is null ? default : Buf.AsSpan(Data, DataLength);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ReadBool(int bitOffset) =>
        (uint)bitOffset < (uint)DataLength * 8 && (Buf![Data + (bitOffset >> 3)] & (1 << (bitOffset & 7))) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte ReadByte(int byteOffset) => (uint)byteOffset < (uint)DataLength ? Buf![Data + byteOffset] : (byte)0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public sbyte ReadSByte(int byteOffset) => (sbyte)ReadByte(byteOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadUInt16(int byteOffset) => (uint)byteOffset + 2 <= (uint)DataLength ? Mem.Read<ushort>(Buf!, Data + byteOffset) : (ushort)0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public short ReadInt16(int byteOffset) => (short)ReadUInt16(byteOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadUInt32(int byteOffset) => (uint)byteOffset + 4 <= (uint)DataLength ? Mem.Read<uint>(Buf!, Data + byteOffset) : 0u;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadInt32(int byteOffset) => (int)ReadUInt32(byteOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadUInt64(int byteOffset) => (uint)byteOffset + 8 <= (uint)DataLength ? Mem.Read<ulong>(Buf!, Data + byteOffset) : 0ul;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadInt64(int byteOffset) => (long)ReadUInt64(byteOffset);

    /// <summary>A Float32 field whose default has the bit pattern <paramref name="defaultBits"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float ReadSingle(int byteOffset, uint defaultBits = 0) => BitConverter.UInt32BitsToSingle(ReadUInt32(byteOffset) ^ defaultBits);

    /// <summary>A Float64 field whose default has the bit pattern <paramref name="defaultBits"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double ReadDouble(int byteOffset, ulong defaultBits = 0) => BitConverter.UInt64BitsToDouble(ReadUInt64(byteOffset) ^ defaultBits);

    internal PointerReader Pointer(int index) =>
        (uint)index < (uint)PtrCount ? new PointerReader(Msg!, Buf!, Seg, Ptrs + index * 8, Nesting) : default;

    public bool IsPointerNull(int index) => Pointer(index).IsNull;

    public StructReader ReadStruct(int pointerIndex) => Pointer(pointerIndex).ReadStruct();

    public ListReader ReadList(int pointerIndex, ElementSize expected) => Pointer(pointerIndex).ReadList(expected);

    public Text ReadText(int pointerIndex) => Pointer(pointerIndex).ReadText();

    public Data ReadData(int pointerIndex) => Pointer(pointerIndex).ReadData();

    public AnyPointerReader ReadAnyPointer(int pointerIndex) => new(Pointer(pointerIndex));

    /// <summary>The capability table index held by a capability field, or null.</summary>
    public uint? ReadCapability(int pointerIndex) => Pointer(pointerIndex).ReadCapability();

    /// <summary>Reads a struct field, or the given default struct when the pointer is null.</summary>
    public StructReader ReadStruct(int pointerIndex, StructReader defaultValue)
    {
        PointerReader p = Pointer(pointerIndex);
        return p.IsNull ? defaultValue : p.ReadStruct();
    }

    public ListReader ReadList(int pointerIndex, ElementSize expected, ListReader defaultValue)
    {
        PointerReader p = Pointer(pointerIndex);
        return p.IsNull ? defaultValue : p.ReadList(expected);
    }

    public Text ReadText(int pointerIndex, Text defaultValue)
    {
        PointerReader p = Pointer(pointerIndex);
        return p.IsNull ? defaultValue : p.ReadText();
    }

    public Data ReadData(int pointerIndex, Data defaultValue)
    {
        PointerReader p = Pointer(pointerIndex);
        return p.IsNull ? defaultValue : p.ReadData();
    }

    public AnyPointerReader ReadAnyPointer(int pointerIndex, AnyPointerReader defaultValue)
    {
        PointerReader p = Pointer(pointerIndex);
        return p.IsNull ? defaultValue : new AnyPointerReader(p);
    }
}
