using System.Runtime.CompilerServices;

namespace Wetware.Capnp;

/// <summary>A struct being built, in place in its segment.</summary>
public readonly struct StructBuilder
{
    internal readonly MessageBuilder Msg;
    internal readonly SegmentBuilder Seg;
    internal readonly int Data;
    internal readonly int DataLength;
    internal readonly int Ptrs;
    internal readonly int PtrCount;

    internal StructBuilder(MessageBuilder msg, SegmentBuilder seg, int data, int dataBytes, int ptrs, int ptrCount)
    {
        Msg = msg;
        Seg = seg;
        Data = data;
        DataLength = dataBytes;
        Ptrs = ptrs;
        PtrCount = ptrCount;
    }

    public bool IsNull => Seg is null;

    public int DataBytes => DataLength;

    public int PointerCount => PtrCount;

    public MessageBuilder Message => Msg;

    private byte[] Buf
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Seg.Buffer;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckData(int byteOffset, int size)
    {
        if ((uint)byteOffset + (uint)size > (uint)DataLength)
        {
            ThrowHelper.InvalidOperation($"field at byte {byteOffset} is outside this struct's {DataLength}-byte data section");
        }
    }

    public bool ReadBool(int bitOffset) =>
        (uint)bitOffset < (uint)DataLength * 8 && (Buf[Data + (bitOffset >> 3)] & (1 << (bitOffset & 7))) != 0;

    public void WriteBool(int bitOffset, bool value)
    {
        CheckData(bitOffset >> 3, 1);
        ref byte b = ref Buf[Data + (bitOffset >> 3)];
        int mask = 1 << (bitOffset & 7);
        b = (byte)(value ? b | mask : b & ~mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(int byteOffset) where T : unmanaged =>
        (uint)byteOffset + (uint)Unsafe.SizeOf<T>() <= (uint)DataLength ? Mem.Read<T>(Buf, Data + byteOffset) : default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write<T>(int byteOffset, T value) where T : unmanaged
    {
        CheckData(byteOffset, Unsafe.SizeOf<T>());
        Mem.Write(Buf, Data + byteOffset, value);
    }

    public byte ReadByte(int byteOffset) => Read<byte>(byteOffset);

    public sbyte ReadSByte(int byteOffset) => Read<sbyte>(byteOffset);

    public ushort ReadUInt16(int byteOffset) => Read<ushort>(byteOffset);

    public short ReadInt16(int byteOffset) => Read<short>(byteOffset);

    public uint ReadUInt32(int byteOffset) => Read<uint>(byteOffset);

    public int ReadInt32(int byteOffset) => Read<int>(byteOffset);

    public ulong ReadUInt64(int byteOffset) => Read<ulong>(byteOffset);

    public long ReadInt64(int byteOffset) => Read<long>(byteOffset);

    public float ReadSingle(int byteOffset, uint defaultBits = 0) => BitConverter.UInt32BitsToSingle(Read<uint>(byteOffset) ^ defaultBits);

    public double ReadDouble(int byteOffset, ulong defaultBits = 0) => BitConverter.UInt64BitsToDouble(Read<ulong>(byteOffset) ^ defaultBits);

    public void WriteByte(int byteOffset, byte value) => Write(byteOffset, value);

    public void WriteSByte(int byteOffset, sbyte value) => Write(byteOffset, value);

    public void WriteUInt16(int byteOffset, ushort value) => Write(byteOffset, value);

    public void WriteInt16(int byteOffset, short value) => Write(byteOffset, value);

    public void WriteUInt32(int byteOffset, uint value) => Write(byteOffset, value);

    public void WriteInt32(int byteOffset, int value) => Write(byteOffset, value);

    public void WriteUInt64(int byteOffset, ulong value) => Write(byteOffset, value);

    public void WriteInt64(int byteOffset, long value) => Write(byteOffset, value);

    public void WriteSingle(int byteOffset, float value, uint defaultBits = 0) => Write(byteOffset, BitConverter.SingleToUInt32Bits(value) ^ defaultBits);

    public void WriteDouble(int byteOffset, double value, ulong defaultBits = 0) => Write(byteOffset, BitConverter.DoubleToUInt64Bits(value) ^ defaultBits);

    internal PointerBuilder Pointer(int index)
    {
        if ((uint)index >= (uint)PtrCount)
        {
            ThrowHelper.InvalidOperation($"pointer {index} is outside this struct's {PtrCount} pointers");
        }
        return new PointerBuilder(Msg, Seg, Ptrs + index * 8);
    }

    public bool IsPointerNull(int index) => (uint)index >= (uint)PtrCount || Pointer(index).IsNull;

    public void ClearPointer(int index) => Pointer(index).Clear();

    public StructBuilder InitStruct(int pointerIndex, int dataWords, int pointerCount) => Pointer(pointerIndex).InitStruct(dataWords, pointerCount);

    public StructBuilder GetStruct(int pointerIndex, int dataWords, int pointerCount, StructReader defaultValue = default) =>
        Pointer(pointerIndex).GetStruct(dataWords, pointerCount, defaultValue);

    public ListBuilder InitList(int pointerIndex, ElementSize size, int count) => Pointer(pointerIndex).InitList(size, count);

    public ListBuilder InitStructList(int pointerIndex, int count, int dataWords, int pointerCount) =>
        Pointer(pointerIndex).InitStructList(count, dataWords, pointerCount);

    public ListBuilder GetList(int pointerIndex, ElementSize expected, ListReader defaultValue = default) =>
        Pointer(pointerIndex).GetList(expected, defaultValue);

    public void SetText(int pointerIndex, string? value)
    {
        if (value is null)
        {
            Pointer(pointerIndex).Clear();
        }
        else
        {
            Pointer(pointerIndex).SetText(value);
        }
    }

    public void SetText(int pointerIndex, ReadOnlySpan<char> value) => Pointer(pointerIndex).SetText(value);

    public void SetTextUtf8(int pointerIndex, ReadOnlySpan<byte> utf8) => Pointer(pointerIndex).SetTextUtf8(utf8);

    public void SetText(int pointerIndex, Text value)
    {
        if (value.IsNull)
        {
            Pointer(pointerIndex).Clear();
        }
        else
        {
            Pointer(pointerIndex).SetTextUtf8(value.Utf8);
        }
    }

    public void SetData(int pointerIndex, ReadOnlySpan<byte> value) => Pointer(pointerIndex).SetData(value);

    public void SetData(int pointerIndex, byte[]? value)
    {
        if (value is null)
        {
            Pointer(pointerIndex).Clear();
        }
        else
        {
            Pointer(pointerIndex).SetData(value);
        }
    }

    public Text ReadText(int pointerIndex, Text defaultValue = default) => AsReader().ReadText(pointerIndex, defaultValue);

    public Data ReadData(int pointerIndex, Data defaultValue = default) => AsReader().ReadData(pointerIndex, defaultValue);

    public AnyPointerBuilder GetAnyPointer(int pointerIndex) => new(Pointer(pointerIndex));

    public void SetCapability(int pointerIndex, uint? capabilityIndex) => Pointer(pointerIndex).SetCapability(capabilityIndex);

    public uint? ReadCapability(int pointerIndex) => AsReader().ReadCapability(pointerIndex);

    /// <summary>Deep-copies <paramref name="value"/> (from any message) into the pointer.</summary>
    public void SetStruct(int pointerIndex, StructReader value) => Copier.CopyStruct(value, Pointer(pointerIndex), canonical: false);

    /// <summary>Deep-copies <paramref name="value"/> (from any message) into the pointer.</summary>
    public void SetList(int pointerIndex, ListReader value) => Copier.CopyList(value, Pointer(pointerIndex), canonical: false);

    /// <summary>Copies every field of <paramref name="source"/> that fits into this struct.</summary>
    public void CopyFrom(StructReader source) => Copier.CopyStructContent(source, this, canonical: false);

    /// <summary>Reads this struct back, in place.</summary>
    public StructReader AsReader() =>
        Seg is null ? default : new StructReader(Msg.View, Buf, Seg.Id, Data, DataLength, Ptrs, PtrCount, int.MaxValue);

    /// <summary>Moves data and pointers into a larger struct (schema evolution), leaving this one zeroed.</summary>
    internal void MoveContentTo(StructBuilder dst)
    {
        Buf.AsSpan(Data, DataLength).CopyTo(dst.Seg.Buffer.AsSpan(dst.Data));
        for (int i = 0; i < PtrCount; i++)
        {
            Copier.TransferPointer(Pointer(i), dst.Pointer(i));
        }
        Buf.AsSpan(Data, DataLength + PtrCount * 8).Clear();
    }
}
