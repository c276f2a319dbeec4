using Wetware.Capnp.Tests.Infrastructure;
using static Wetware.Capnp.Tests.Infrastructure.Words;

namespace Wetware.Capnp.Tests.Encoding;

public class PointerReadingTests
{
    [Fact]
    public void StructFieldsReadFromTheDataSectionAndMissingOnesReadAsZero()
    {
        using var m = Message(Struct(0, 1, 0), 0x0123_4567_89AB_CDEFul);
        StructReader r = m.GetRoot();
        Assert.Equal(0x89AB_CDEFu, r.ReadUInt32(0));
        Assert.Equal(0x0123_4567u, r.ReadUInt32(4));
        Assert.Equal((byte)0xEF, r.ReadByte(0));
        Assert.True(r.ReadBool(0));
        Assert.False(r.ReadBool(4));
        // Beyond the data section: an older schema, the field reads as zero (its default after XOR).
        Assert.Equal(0ul, r.ReadUInt64(8));
        Assert.False(r.ReadBool(64));
        Assert.True(r.ReadStruct(0).IsNull);
    }

    [Fact]
    public void NullRootReadsAsAnEmptyStruct()
    {
        using var m = Message(0ul);
        StructReader r = m.GetRoot();
        Assert.True(r.IsNull);
        Assert.Equal(0, r.ReadInt32(0));
        Assert.True(r.ReadText(0).IsNull);
    }

    [Fact]
    public void TextIsReadWithoutItsNulTerminator()
    {
        // root -> struct(0 data, 1 ptr) -> byte list "hi\0"
        using var m = Message(Struct(0, 0, 1), List(0, ElementSize.Byte, 3), 0x00_6968ul);
        Text t = m.GetRoot().ReadText(0);
        Assert.Equal("hi", t.ToString());
        Assert.Equal(2, t.Length);
    }

    [Fact]
    public void TextWithoutNulTerminatorIsAFormatError()
    {
        using var m = Message(Struct(0, 0, 1), List(0, ElementSize.Byte, 2), 0x6968ul);
        Assert.Throws<CapnpFormatException>(() => m.GetRoot().ReadText(0));
    }

    [Fact]
    public void TextPointingAtAStructIsAFormatError()
    {
        using var m = Message(Struct(0, 0, 1), Struct(0, 1, 0), 0ul);
        var e = Assert.Throws<CapnpFormatException>(() => m.GetRoot().ReadText(0));
        Assert.Contains("struct", e.Message);
    }

    [Fact]
    public void PointerOutOfTheSegmentIsAFormatError()
    {
        using var m = Message(Struct(5, 1, 0), 0ul);
        Assert.Throws<CapnpFormatException>(() => m.GetRoot());
    }

    [Fact]
    public void NegativeOffsetBeforeTheSegmentIsAFormatError()
    {
        using var m = Message(Struct(-3, 1, 0));
        Assert.Throws<CapnpFormatException>(() => m.GetRoot());
    }

    [Fact]
    public void FarPointerIsFollowedToItsLandingPad()
    {
        // segment 0: root = far to segment 1, word 0; segment 1: pad (struct, offset 0), then the struct.
        byte[] s0 = Of(Far(1, 0));
        byte[] s1 = Of(Struct(0, 1, 0), 42ul);
        using var m = new MessageReader([s0, s1]);
        Assert.Equal(42ul, m.GetRoot().ReadUInt64(0));
    }

    [Fact]
    public void DoubleFarPointerTakesTheSizesFromItsTagAndTheContentFromThirdSegment()
    {
        byte[] s0 = Of(Far(1, 0, doubleFar: true));
        byte[] s1 = Of(Far(2, 1), Struct(0, 1, 0));
        byte[] s2 = Of(0ul, 7ul);
        using var m = new MessageReader([s0, s1, s2]);
        Assert.Equal(7ul, m.GetRoot().ReadUInt64(0));
    }

    [Fact]
    public void LandingPadThatIsAnotherFarPointerIsRejected()
    {
        byte[] s0 = Of(Far(1, 0));
        byte[] s1 = Of(Far(1, 0));
        using var m = new MessageReader([s0, s1]);
        Assert.Throws<CapnpFormatException>(() => m.GetRoot());
    }

    [Fact]
    public void FarPointerToAMissingSegmentIsAFormatError()
    {
        using var m = Message(Far(9, 0));
        Assert.Throws<CapnpFormatException>(() => m.GetRoot());
    }

    [Fact]
    public void ZeroSizedStructPointerIsNotNull()
    {
        using var m = Message(0xFFFF_FFFCul);
        AnyPointerReader root = m.Root;
        Assert.False(root.IsNull);
        Assert.Equal(PointerKind.Struct, root.Kind);
        Assert.False(m.GetRoot().IsNull);
    }

    [Fact]
    public void CapabilityPointerGivesItsTableIndex()
    {
        using var m = Message(Struct(0, 0, 2), Capability(5), 0ul);
        StructReader r = m.GetRoot();
        Assert.Equal(5u, r.ReadCapability(0));
        Assert.Null(r.ReadCapability(1));
        Assert.Equal(PointerKind.Capability, r.ReadAnyPointer(0).Kind);
    }

    [Fact]
    public void BitListsReadBitByBit()
    {
        using var m = Message(List(0, ElementSize.Bit, 10), 0b10_0000_0101ul);
        BoolList l = m.Root.GetList<BoolList>();
        Assert.Equal(10, l.Count);
        Assert.Equal(new[] { true, false, true, false, false, false, false, false, false, true }, Enumerable.Range(0, 10).Select(i => l[i]));
    }

    [Fact]
    public void PrimitiveListCanBeReadAsAListOfStructsWhoseFirstFieldIsTheElement()
    {
        // encoding spec, "Lists": a List(UInt32) may be read as a list of structs (schema upgrade).
        using var m = Message(List(0, ElementSize.FourBytes, 3), 0x0000_0002_0000_0001ul, 3ul);
        ListReader l = m.Root.GetList(ElementSize.InlineComposite);
        Assert.Equal(3, l.Count);
        Assert.Equal(2u, l.GetStruct(1).ReadUInt32(0));
        Assert.Equal(0u, l.GetStruct(1).ReadUInt32(4));
    }

    [Fact]
    public void StructListCanBeReadAsAListOfItsFirstDataWord()
    {
        // composite list of 2 elements, 1 data word + 1 pointer each
        using var m = Message(List(0, ElementSize.InlineComposite, 4), Struct(2, 1, 1), 11ul, 0ul, 22ul, 0ul);
        PrimitiveList<ulong> l = m.Root.GetList<PrimitiveList<ulong>>();
        Assert.Equal(new ulong[] { 11, 22 }, l.ToArray());
    }

    [Fact]
    public void BitListReadAsStructListIsAFormatError()
    {
        using var m = Message(List(0, ElementSize.Bit, 3), 0ul);
        Assert.Throws<CapnpFormatException>(() => m.Root.GetList(ElementSize.InlineComposite));
    }

    [Fact]
    public void CompositeListWhoseElementsOverrunItsWordCountIsRejected()
    {
        using var m = Message(List(0, ElementSize.InlineComposite, 1), Struct(3, 1, 0), 0ul);
        Assert.Throws<CapnpFormatException>(() => m.Root.GetList(ElementSize.InlineComposite));
    }

    [Fact]
    public void ListIndexOutsideTheListThrows()
    {
        using var m = Message(List(0, ElementSize.Byte, 1), 0ul);
        PrimitiveList<byte> l = m.Root.GetList<PrimitiveList<byte>>();
        Assert.Throws<ArgumentOutOfRangeException>(() => l[1]);
    }
}
