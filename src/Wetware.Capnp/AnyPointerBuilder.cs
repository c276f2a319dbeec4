namespace Wetware.Capnp;

/// <summary>An AnyPointer field (or list element, or the root) being built.</summary>
public readonly struct AnyPointerBuilder
{
    internal readonly PointerBuilder Pointer;

    internal AnyPointerBuilder(PointerBuilder pointer) => Pointer = pointer;

    public bool IsNull => Pointer.IsNull;

    public void Clear() => Pointer.Clear();

    public StructBuilder InitStruct(int dataWords, int pointerCount) => Pointer.InitStruct(dataWords, pointerCount);

    public T InitStruct<T>() where T : struct, IStructBuilderView<T> => T.FromStruct(Pointer.InitStruct(T.DataWords, T.PointerCount));

    public T GetStruct<T>() where T : struct, IStructBuilderView<T> => T.FromStruct(Pointer.GetStruct(T.DataWords, T.PointerCount, default));

    public ListBuilder InitList(ElementSize size, int count) => Pointer.InitList(size, count);

    public ListBuilder InitStructList(int count, int dataWords, int pointerCount) => Pointer.InitStructList(count, dataWords, pointerCount);

    public ListBuilder GetList(ElementSize expected) => Pointer.GetList(expected, default);

    public T InitList<T>(int count) where T : struct, IListBuilderView<T> => T.Init(this, count);

    public T GetList<T>() where T : struct, IListBuilderView<T> => T.Get(this);

    public void SetText(string value) => Pointer.SetText(value);

    public void SetData(ReadOnlySpan<byte> value) => Pointer.SetData(value);

    public void SetCapability(uint? index) => Pointer.SetCapability(index);

    /// <summary>Deep-copies any object (from any message) into this pointer.</summary>
    public void Set(AnyPointerReader value) => Copier.CopyPointer(value.Pointer, Pointer, canonical: false);

    public void SetStruct(StructReader value) => Copier.CopyStruct(value, Pointer, canonical: false);

    public void SetList(ListReader value) => Copier.CopyList(value, Pointer, canonical: false);

    public AnyPointerReader AsReader() => new(Pointer.AsReader());
}
