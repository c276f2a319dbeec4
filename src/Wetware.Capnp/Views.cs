namespace Wetware.Capnp;

/// <summary>A generated struct reader: a typed wrapper around a <see cref="StructReader"/>.</summary>
public interface IStructView<TSelf> where TSelf : struct, IStructView<TSelf>
{
    static abstract TSelf FromStruct(StructReader reader);

    StructReader Struct { get; }
}

/// <summary>A typed list reader: a wrapper around a <see cref="ListReader"/> with a fixed element kind.</summary>
public interface IListView<TSelf> where TSelf : struct, IListView<TSelf>
{
    static abstract ElementSize ExpectedElementSize { get; }

    static abstract TSelf FromList(ListReader list);

    ListReader List { get; }
}

/// <summary>A generated struct builder: a typed wrapper around a <see cref="StructBuilder"/>.</summary>
public interface IStructBuilderView<TSelf> where TSelf : struct, IStructBuilderView<TSelf>
{
    static abstract ushort DataWords { get; }

    static abstract ushort PointerCount { get; }

    static abstract TSelf FromStruct(StructBuilder builder);

    StructBuilder Struct { get; }
}

/// <summary>A typed list builder, so lists of lists can be built generically.</summary>
public interface IListBuilderView<TSelf> where TSelf : struct, IListBuilderView<TSelf>
{
    /// <summary>Allocates a list of <paramref name="count"/> elements at the pointer.</summary>
    static abstract TSelf Init(AnyPointerBuilder pointer, int count);

    /// <summary>The list the pointer already refers to (empty if null).</summary>
    static abstract TSelf Get(AnyPointerBuilder pointer);

    ListBuilder List { get; }
}
