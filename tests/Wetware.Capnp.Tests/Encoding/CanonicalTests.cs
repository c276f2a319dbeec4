namespace Wetware.Capnp.Tests.Encoding;

public class CanonicalTests
{
    [Fact]
    public void CanonicalFormTruncatesTrailingZeroDataAndNullPointers()
    {
        using var b = new MessageBuilder();
        StructBuilder root = b.InitRoot(4, 4);
        root.WriteInt32(0, 1);
        root.SetText(1, "x");
        byte[] canonical = Canonical.Canonicalize(b.AsReader().GetRoot());
        // root pointer, 1 data word, 2 pointers, then the text "x\0" in one word
        Assert.Equal(5 * 8, canonical.Length);
        using var m = new MessageReader(canonical);
        Assert.True(Canonical.IsCanonical(m));
        Assert.Equal(1, m.GetRoot().ReadInt32(0));
        Assert.Equal("x", m.GetRoot().ReadText(1).ToString());
        Assert.Equal(8, m.GetRoot().DataBytes);
        Assert.Equal(2, m.GetRoot().PointerCount);
    }

    [Fact]
    public void EqualValuesBuiltDifferentlyHaveIdenticalCanonicalForms()
    {
        using var a = new MessageBuilder(firstSegmentWords: 1);
        StructBuilder ra = a.InitRoot(2, 2);
        ra.SetText(1, "second");
        ra.SetText(0, "first");
        ra.WriteInt64(0, 5);

        using var b = new MessageBuilder();
        StructBuilder rb = b.InitRoot(1, 3);
        rb.WriteInt64(0, 5);
        rb.SetText(0, "first");
        rb.SetText(1, "second");

        Assert.Equal(Canonical.Canonicalize(a.AsReader().GetRoot()), Canonical.Canonicalize(b.AsReader().GetRoot()));
    }

    [Fact]
    public void StructListElementsTakeTheLargestTruncatedSize()
    {
        using var b = new MessageBuilder();
        ListBuilder l = b.InitRoot(0, 1).InitStructList(0, 2, 3, 2);
        l.GetStruct(0).WriteInt64(8, 1);  // needs 2 data words
        l.GetStruct(1).SetText(0, "p");    // needs 1 pointer
        byte[] canonical = Canonical.Canonicalize(b.AsReader().GetRoot());
        using var m = new MessageReader(canonical);
        Assert.True(Canonical.IsCanonical(m));
        ListReader r = m.GetRoot().ReadList(0, ElementSize.InlineComposite);
        Assert.Equal(16, r.GetStruct(0).DataBytes);
        Assert.Equal(1, r.GetStruct(0).PointerCount);
    }

    [Fact]
    public void MessagesWithFarPointersOrSeveralSegmentsAreNotCanonical()
    {
        using var b = new MessageBuilder(firstSegmentWords: 1);
        b.InitRoot(4, 0).WriteInt32(24, 1);
        using MessageReader m = Framing.Read(Framing.ToArray(b));
        Assert.True(m.SegmentCount > 1);
        Assert.False(Canonical.IsCanonical(m));
    }

    [Fact]
    public void UntruncatedStructIsNotCanonical()
    {
        using var b = new MessageBuilder();
        b.InitRoot(2, 0).WriteInt32(0, 1);
        using var m = new MessageReader(b.GetSegment(0));
        Assert.False(Canonical.IsCanonical(m));
    }

    [Fact]
    public void TrailingGarbageAfterTheObjectsIsNotCanonical()
    {
        using var b = new MessageBuilder();
        b.InitRoot(1, 0).WriteInt32(0, 1);
        byte[] canonical = Canonical.Canonicalize(b.AsReader().GetRoot());
        using var m = new MessageReader(canonical.Concat(new byte[8]).ToArray());
        Assert.False(Canonical.IsCanonical(m));
    }
}
