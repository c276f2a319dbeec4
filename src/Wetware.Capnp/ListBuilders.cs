using System.Runtime.CompilerServices;

namespace Wetware.Capnp;

/// <summary>List(Int8..Int64 / UInt8..UInt64 / Float32 / Float64) being built.</summary>
public readonly struct PrimitiveListBuilder<T> : IListBuilderView<PrimitiveListBuilder<T>> where T : unmanaged
{
    private readonly ListBuilder _list;

    public PrimitiveListBuilder(ListBuilder list) => _list = list;

    public static PrimitiveListBuilder<T> Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(PrimitiveList<T>.ExpectedElementSize, count));

    public static PrimitiveListBuilder<T> Get(AnyPointerBuilder pointer) => new(pointer.GetList(PrimitiveList<T>.ExpectedElementSize));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    public T this[int index]
    {
        get => _list.Read<T>(index);
        set => _list.Write(index, value);
    }

    public PrimitiveList<T> AsReader() => new(_list.AsReader());
}

/// <summary>List(Enum) being built.</summary>
public readonly struct EnumListBuilder<T> : IListBuilderView<EnumListBuilder<T>> where T : unmanaged, Enum
{
    private readonly ListBuilder _list;

    public EnumListBuilder(ListBuilder list) => _list = list;

    public static EnumListBuilder<T> Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.TwoBytes, count));

    public static EnumListBuilder<T> Get(AnyPointerBuilder pointer) => new(pointer.GetList(ElementSize.TwoBytes));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    public T this[int index]
    {
        get
        {
            ushort v = _list.Read<ushort>(index);
            return Unsafe.As<ushort, T>(ref v);
        }
        set => _list.Write(index, Unsafe.As<T, ushort>(ref value));
    }

    public EnumList<T> AsReader() => new(_list.AsReader());
}

/// <summary>List(Bool) being built.</summary>
public readonly struct BoolListBuilder : IListBuilderView<BoolListBuilder>
{
    private readonly ListBuilder _list;

    public BoolListBuilder(ListBuilder list) => _list = list;

    public static BoolListBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Bit, count));

    public static BoolListBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList(ElementSize.Bit));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    public bool this[int index]
    {
        get => _list.ReadBool(index);
        set => _list.WriteBool(index, value);
    }

    public BoolList AsReader() => new(_list.AsReader());
}

/// <summary>List(Void) being built: only a length.</summary>
public readonly struct VoidListBuilder : IListBuilderView<VoidListBuilder>
{
    private readonly ListBuilder _list;

    public VoidListBuilder(ListBuilder list) => _list = list;

    public static VoidListBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Void, count));

    public static VoidListBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList(ElementSize.Void));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    public VoidList AsReader() => new(_list.AsReader());
}

/// <summary>List(SomeStruct) being built.</summary>
public readonly struct StructListBuilder<T> : IListBuilderView<StructListBuilder<T>> where T : struct, IStructBuilderView<T>
{
    private readonly ListBuilder _list;

    public StructListBuilder(ListBuilder list) => _list = list;

    public static StructListBuilder<T> Init(AnyPointerBuilder pointer, int count) => new(pointer.InitStructList(count, T.DataWords, T.PointerCount));

    public static StructListBuilder<T> Get(AnyPointerBuilder pointer) => new(pointer.GetList(ElementSize.InlineComposite));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    public T this[int index] => T.FromStruct(_list.GetStruct(index));
}

/// <summary>List(Text) being built.</summary>
public readonly struct TextListBuilder : IListBuilderView<TextListBuilder>
{
    private readonly ListBuilder _list;

    public TextListBuilder(ListBuilder list) => _list = list;

    public static TextListBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));

    public static TextListBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList(ElementSize.Pointer));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    public Text this[int index] => _list.ReadText(index);

    public void Set(int index, string? value) => _list.SetText(index, value);

    public TextList AsReader() => new(_list.AsReader());
}

/// <summary>List(Data) being built.</summary>
public readonly struct DataListBuilder : IListBuilderView<DataListBuilder>
{
    private readonly ListBuilder _list;

    public DataListBuilder(ListBuilder list) => _list = list;

    public static DataListBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));

    public static DataListBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList(ElementSize.Pointer));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    public Data this[int index] => _list.ReadData(index);

    public void Set(int index, ReadOnlySpan<byte> value) => _list.SetData(index, value);

    public DataList AsReader() => new(_list.AsReader());
}

/// <summary>List(List(...)) being built.</summary>
public readonly struct ListListBuilder<T> : IListBuilderView<ListListBuilder<T>> where T : struct, IListBuilderView<T>
{
    private readonly ListBuilder _list;

    public ListListBuilder(ListBuilder list) => _list = list;

    public static ListListBuilder<T> Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));

    public static ListListBuilder<T> Get(AnyPointerBuilder pointer) => new(pointer.GetList(ElementSize.Pointer));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    /// <summary>Allocates element <paramref name="index"/> as a list of <paramref name="count"/> elements.</summary>
    public T Init(int index, int count) => T.Init(_list.GetAnyPointer(index), count);

    public T this[int index] => T.Get(_list.GetAnyPointer(index));
}

/// <summary>List(AnyPointer) or a list of capabilities being built.</summary>
public readonly struct AnyPointerListBuilder : IListBuilderView<AnyPointerListBuilder>
{
    private readonly ListBuilder _list;

    public AnyPointerListBuilder(ListBuilder list) => _list = list;

    public static AnyPointerListBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));

    public static AnyPointerListBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList(ElementSize.Pointer));

    public ListBuilder List => _list;

    public int Count => _list.Count;

    public AnyPointerBuilder this[int index] => _list.GetAnyPointer(index);
}
