namespace Wetware.Capnp;

/// <summary>The element size field of a list pointer (encoding spec, "Lists").</summary>
public enum ElementSize : byte
{
    Void = 0,
    Bit = 1,
    Byte = 2,
    TwoBytes = 3,
    FourBytes = 4,
    EightBytes = 5,
    Pointer = 6,
    InlineComposite = 7,
}

/// <summary>The kind of object a pointer refers to.</summary>
public enum PointerKind
{
    Null,
    Struct,
    List,
    Capability,
}

internal static class ElementSizes
{
    public static int DataBits(ElementSize size) => size switch
    {
        ElementSize.Void => 0,
        ElementSize.Bit => 1,
        ElementSize.Byte => 8,
        ElementSize.TwoBytes => 16,
        ElementSize.FourBytes => 32,
        ElementSize.EightBytes => 64,
        _ => 0,
    };

    public static int PointerCount(ElementSize size) => size == ElementSize.Pointer ? 1 : 0;

    /// <summary>Bits per element of a non-composite list.</summary>
    public static int StepBits(ElementSize size) => size == ElementSize.Pointer ? 64 : DataBits(size);
}
