namespace Wetware.Capnp.Generator;

// Hand-written readers for the parts of schema.capnp a generator needs (bootstrap: the
// generator cannot use its own output to read its input). Offsets are those printed by
// `capnp compile -ocapnp /usr/include/capnp/schema.capnp`.

internal enum NodeKind : ushort { File = 0, Struct = 1, Enum = 2, Interface = 3, Const = 4, Annotation = 5 }

internal enum TypeKind : ushort
{
    Void = 0, Bool = 1, Int8 = 2, Int16 = 3, Int32 = 4, Int64 = 5, UInt8 = 6, UInt16 = 7, UInt32 = 8, UInt64 = 9,
    Float32 = 10, Float64 = 11, Text = 12, Data = 13, List = 14, Enum = 15, Struct = 16, Interface = 17, AnyPointer = 18,
}

internal readonly struct RequestReader(StructReader s)
{
    public StructList<NodeReader> Nodes => StructList<NodeReader>.FromList(s.ReadList(0, ElementSize.InlineComposite));

    public StructList<RequestedFileReader> RequestedFiles => StructList<RequestedFileReader>.FromList(s.ReadList(1, ElementSize.InlineComposite));
}

internal readonly struct RequestedFileReader(StructReader s) : IStructView<RequestedFileReader>
{
    public static RequestedFileReader FromStruct(StructReader reader) => new(reader);

    public StructReader Struct => s;

    public ulong Id => s.ReadUInt64(0);

    public string Filename => s.ReadText(0).ToString();
}

internal readonly struct NodeReader(StructReader s) : IStructView<NodeReader>
{
    public static NodeReader FromStruct(StructReader reader) => new(reader);

    public StructReader Struct => s;

    public ulong Id => s.ReadUInt64(0);

    public string DisplayName => s.ReadText(0).ToString();

    public int DisplayNamePrefixLength => (int)s.ReadUInt32(8);

    public string ShortName => DisplayName[DisplayNamePrefixLength..];

    public ulong ScopeId => s.ReadUInt64(16);

    public bool IsGeneric => s.ReadBool(288);

    public StructList<NestedNodeReader> NestedNodes => StructList<NestedNodeReader>.FromList(s.ReadList(1, ElementSize.InlineComposite));

    public StructList<AnnotationReader> Annotations => StructList<AnnotationReader>.FromList(s.ReadList(2, ElementSize.InlineComposite));

    public NodeKind Kind => (NodeKind)s.ReadUInt16(12);

    // struct group
    public int DataWordCount => s.ReadUInt16(14);

    public int PointerCount => s.ReadUInt16(24);

    public bool IsGroup => s.ReadBool(224);

    public int DiscriminantCount => s.ReadUInt16(30);

    public int DiscriminantOffset => (int)s.ReadUInt32(32);

    public StructList<FieldReader> Fields => StructList<FieldReader>.FromList(s.ReadList(3, ElementSize.InlineComposite));

    // enum group
    public StructList<EnumerantReader> Enumerants => StructList<EnumerantReader>.FromList(s.ReadList(3, ElementSize.InlineComposite));

    // interface group
    public StructList<MethodReader> Methods => StructList<MethodReader>.FromList(s.ReadList(3, ElementSize.InlineComposite));

    public StructList<SuperclassReader> Superclasses => StructList<SuperclassReader>.FromList(s.ReadList(4, ElementSize.InlineComposite));

    // const group
    public TypeReader ConstType => new(s.ReadStruct(3));

    public ValueReader ConstValue => new(s.ReadStruct(4));
}

internal readonly struct NestedNodeReader(StructReader s) : IStructView<NestedNodeReader>
{
    public static NestedNodeReader FromStruct(StructReader reader) => new(reader);

    public StructReader Struct => s;

    public string Name => s.ReadText(0).ToString();

    public ulong Id => s.ReadUInt64(0);
}

internal readonly struct AnnotationReader(StructReader s) : IStructView<AnnotationReader>
{
    public static AnnotationReader FromStruct(StructReader reader) => new(reader);

    public StructReader Struct => s;

    public ulong Id => s.ReadUInt64(0);

    public ValueReader Value => new(s.ReadStruct(0));
}

internal readonly struct FieldReader(StructReader s) : IStructView<FieldReader>
{
    public const ushort NoDiscriminant = 0xFFFF;

    public static FieldReader FromStruct(StructReader reader) => new(reader);

    public StructReader Struct => s;

    public string Name => s.ReadText(0).ToString();

    public int CodeOrder => s.ReadUInt16(0);

    public ushort DiscriminantValue => (ushort)(s.ReadUInt16(2) ^ 0xFFFF);

    public bool IsGroup => s.ReadUInt16(8) == 1;

    public int SlotOffset => (int)s.ReadUInt32(4);

    public TypeReader SlotType => new(s.ReadStruct(2));

    public ValueReader DefaultValue => new(s.ReadStruct(3));

    public bool HadExplicitDefault => s.ReadBool(128);

    public ulong GroupTypeId => s.ReadUInt64(16);
}

internal readonly struct EnumerantReader(StructReader s) : IStructView<EnumerantReader>
{
    public static EnumerantReader FromStruct(StructReader reader) => new(reader);

    public StructReader Struct => s;

    public string Name => s.ReadText(0).ToString();

    public int CodeOrder => s.ReadUInt16(0);
}

internal readonly struct MethodReader(StructReader s) : IStructView<MethodReader>
{
    public static MethodReader FromStruct(StructReader reader) => new(reader);

    public StructReader Struct => s;

    public string Name => s.ReadText(0).ToString();

    public int CodeOrder => s.ReadUInt16(0);

    public ulong ParamStructType => s.ReadUInt64(8);

    public ulong ResultStructType => s.ReadUInt64(16);
}

internal readonly struct SuperclassReader(StructReader s) : IStructView<SuperclassReader>
{
    public static SuperclassReader FromStruct(StructReader reader) => new(reader);

    public StructReader Struct => s;

    public ulong Id => s.ReadUInt64(0);
}

internal readonly struct TypeReader(StructReader s)
{
    public TypeKind Kind => (TypeKind)s.ReadUInt16(0);

    public TypeReader ElementType => new(s.ReadStruct(0));

    public ulong TypeId => s.ReadUInt64(8);

    /// <summary>For AnyPointer: 0 unconstrained, 1 a type parameter, 2 an implicit method parameter.</summary>
    public int AnyPointerKind => s.ReadUInt16(8);

    /// <summary>For an unconstrained AnyPointer: 0 AnyPointer, 1 AnyStruct, 2 AnyList, 3 Capability.</summary>
    public int UnconstrainedKind => s.ReadUInt16(10);

    /// <summary>An interface or <c>Capability</c>: held as a capability table index.</summary>
    public bool IsCapability => Kind == TypeKind.Interface || (Kind == TypeKind.AnyPointer && AnyPointerKind == 0 && UnconstrainedKind == 3);
}

internal readonly struct ValueReader(StructReader s)
{
    public TypeKind Kind => (TypeKind)s.ReadUInt16(0);

    public bool IsNull => s.IsNull;

    public bool Bool => s.ReadBool(16);

    /// <summary>The raw bits of a numeric, bool or enum value, as they sit in a data section.</summary>
    public ulong Bits => Kind switch
    {
        TypeKind.Bool => s.ReadBool(16) ? 1ul : 0ul,
        TypeKind.Int8 or TypeKind.UInt8 => s.ReadByte(2),
        TypeKind.Int16 or TypeKind.UInt16 or TypeKind.Enum => s.ReadUInt16(2),
        TypeKind.Int32 or TypeKind.UInt32 or TypeKind.Float32 => s.ReadUInt32(4),
        TypeKind.Int64 or TypeKind.UInt64 or TypeKind.Float64 => s.ReadUInt64(8),
        _ => 0,
    };

    /// <summary>The pointer of a text, data, list, struct or AnyPointer value.</summary>
    public AnyPointerReader Pointer => s.ReadAnyPointer(0);
}
