namespace Wetware.Capnp;

/// <summary>An AnyPointer field: a pointer whose target type the schema leaves open.</summary>
public readonly struct AnyPointerReader
{
    internal readonly PointerReader Pointer;

    internal AnyPointerReader(PointerReader pointer) => Pointer = pointer;

    public bool IsNull => Pointer.IsNull;

    public PointerKind Kind => Pointer.Kind;

    public StructReader GetStruct() => Pointer.ReadStruct();

    public T GetStruct<T>() where T : struct, IStructView<T> => T.FromStruct(Pointer.ReadStruct());

    public ListReader GetList(ElementSize expected) => Pointer.ReadList(expected);

    public T GetList<T>() where T : struct, IListView<T> => T.FromList(Pointer.ReadList(T.ExpectedElementSize));

    public Text GetText() => Pointer.ReadText();

    public Data GetData() => Pointer.ReadData();

    public uint? GetCapability() => Pointer.ReadCapability();

    /// <summary>Words this pointer's target occupies, recursively, as it would be laid out in a fresh message.</summary>
    public long TargetSizeInWords() => Copier.SizeInWords(Pointer, canonical: false);
}
