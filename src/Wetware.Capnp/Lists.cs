using System.Runtime.CompilerServices;

namespace Wetware.Capnp;

/// <summary>List(Int8..Int64 / UInt8..UInt64 / Float32 / Float64).</summary>
public readonly struct PrimitiveList<T> : IListView<PrimitiveList<T>> where T : unmanaged
{
    private readonly ListReader _list;

    public PrimitiveList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => Unsafe.SizeOf<T>() switch
    {
        1 => ElementSize.Byte,
        2 => ElementSize.TwoBytes,
        4 => ElementSize.FourBytes,
        _ => ElementSize.EightBytes,
    };

    public static PrimitiveList<T> FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;

    public T this[int index] => _list.Read<T>(index);

    public T[] ToArray()
    {
        var a = new T[Count];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = this[i];
        }
        return a;
    }

    public Enumerator GetEnumerator() => new(this);

    public struct Enumerator(PrimitiveList<T> list)
    {
        private int _i = -1;

        public readonly T Current => list[_i];

        public bool MoveNext() => ++_i < list.Count;
    }
}

/// <summary>List(Enum): enums are 16-bit on the wire.</summary>
public readonly struct EnumList<T> : IListView<EnumList<T>> where T : unmanaged, Enum
{
    private readonly ListReader _list;

    public EnumList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => ElementSize.TwoBytes;

    public static EnumList<T> FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;

    public T this[int index]
    {
        get
        {
            ushort v = _list.Read<ushort>(index);
            return Unsafe.As<ushort, T>(ref v);
        }
    }

    public Enumerator GetEnumerator() => new(this);

    public struct Enumerator(EnumList<T> list)
    {
        private int _i = -1;

        public readonly T Current => list[_i];

        public bool MoveNext() => ++_i < list.Count;
    }
}

/// <summary>List(Bool).</summary>
public readonly struct BoolList : IListView<BoolList>
{
    private readonly ListReader _list;

    public BoolList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => ElementSize.Bit;

    public static BoolList FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;

    public bool this[int index] => _list.ReadBool(index);

    public Enumerator GetEnumerator() => new(this);

    public struct Enumerator(BoolList list)
    {
        private int _i = -1;

        public readonly bool Current => list[_i];

        public bool MoveNext() => ++_i < list.Count;
    }
}

/// <summary>List(Void): only a length.</summary>
public readonly struct VoidList : IListView<VoidList>
{
    private readonly ListReader _list;

    public VoidList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => ElementSize.Void;

    public static VoidList FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;
}

/// <summary>List(SomeStruct).</summary>
public readonly struct StructList<T> : IListView<StructList<T>> where T : struct, IStructView<T>
{
    private readonly ListReader _list;

    public StructList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => ElementSize.InlineComposite;

    public static StructList<T> FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;

    public T this[int index] => T.FromStruct(_list.GetStruct(index));

    public Enumerator GetEnumerator() => new(this);

    public struct Enumerator(StructList<T> list)
    {
        private int _i = -1;

        public readonly T Current => list[_i];

        public bool MoveNext() => ++_i < list.Count;
    }
}

/// <summary>List(Text).</summary>
public readonly struct TextList : IListView<TextList>
{
    private readonly ListReader _list;

    public TextList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => ElementSize.Pointer;

    public static TextList FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;

    public Text this[int index] => _list.GetText(index);

    public string[] ToStrings()
    {
        var a = new string[Count];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = this[i].ToString();
        }
        return a;
    }

    public Enumerator GetEnumerator() => new(this);

    public struct Enumerator(TextList list)
    {
        private int _i = -1;

        public readonly Text Current => list[_i];

        public bool MoveNext() => ++_i < list.Count;
    }
}

/// <summary>List(Data).</summary>
public readonly struct DataList : IListView<DataList>
{
    private readonly ListReader _list;

    public DataList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => ElementSize.Pointer;

    public static DataList FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;

    public Data this[int index] => _list.GetData(index);

    public Enumerator GetEnumerator() => new(this);

    public struct Enumerator(DataList list)
    {
        private int _i = -1;

        public readonly Data Current => list[_i];

        public bool MoveNext() => ++_i < list.Count;
    }
}

/// <summary>List(List(...)): each element is a typed list.</summary>
public readonly struct ListList<T> : IListView<ListList<T>> where T : struct, IListView<T>
{
    private readonly ListReader _list;

    public ListList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => ElementSize.Pointer;

    public static ListList<T> FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;

    public T this[int index] => T.FromList(_list.GetList(index, T.ExpectedElementSize));

    public Enumerator GetEnumerator() => new(this);

    public struct Enumerator(ListList<T> list)
    {
        private int _i = -1;

        public readonly T Current => list[_i];

        public bool MoveNext() => ++_i < list.Count;
    }
}

/// <summary>List(AnyPointer), and lists of interfaces (each element a capability pointer).</summary>
public readonly struct AnyPointerList : IListView<AnyPointerList>
{
    private readonly ListReader _list;

    public AnyPointerList(ListReader list) => _list = list;

    public static ElementSize ExpectedElementSize => ElementSize.Pointer;

    public static AnyPointerList FromList(ListReader list) => new(list);

    public ListReader List => _list;

    public int Count => _list.Count;

    public AnyPointerReader this[int index] => _list.GetAnyPointer(index);
}
