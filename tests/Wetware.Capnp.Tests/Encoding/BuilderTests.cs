namespace Wetware.Capnp.Tests.Encoding;

public class BuilderTests
{
    private static MessageReader RoundTrip(MessageBuilder builder) => Framing.Read(Framing.ToArray(builder));

    [Fact]
    public void FieldsWrittenByTheBuilderReadBackThroughTheFrame()
    {
        using var b = new MessageBuilder();
        StructBuilder root = b.InitRoot(2, 3);
        root.WriteInt32(0, -5);
        root.WriteBool(32, true);
        root.WriteDouble(8, 2.5);
        root.SetText(0, "héllo");
        root.SetData(1, [1, 2, 3]);
        StructBuilder inner = root.InitStruct(2, 1, 0);
        inner.WriteUInt64(0, ulong.MaxValue);

        using MessageReader m = RoundTrip(b);
        StructReader r = m.GetRoot();
        Assert.Equal(-5, r.ReadInt32(0));
        Assert.True(r.ReadBool(32));
        Assert.Equal(2.5, r.ReadDouble(8));
        Assert.Equal("héllo", r.ReadText(0).ToString());
        Assert.Equal(new byte[] { 1, 2, 3 }, r.ReadData(1).ToArray());
        Assert.Equal(ulong.MaxValue, r.ReadStruct(2).ReadUInt64(0));
    }

    [Fact]
    public void DefaultXorMakesTheDefaultValueWriteZeroBits()
    {
        using var b = new MessageBuilder();
        StructBuilder root = b.InitRoot(1, 0);
        root.WriteSingle(0, 1.5f, BitConverter.SingleToUInt32Bits(1.5f));
        Assert.Equal(0u, root.ReadUInt32(0));
        Assert.Equal(1.5f, root.AsReader().ReadSingle(0, BitConverter.SingleToUInt32Bits(1.5f)));
    }

    [Fact]
    public void ObjectsThatDoNotFitTheFirstSegmentGoToNewSegmentsThroughFarPointers()
    {
        using var b = new MessageBuilder(firstSegmentWords: 2);
        StructBuilder root = b.InitRoot(1, 2);
        root.WriteInt64(0, 77);
        root.SetText(0, new string('x', 100));
        TextListBuilder names = TextListBuilder.Init(root.GetAnyPointer(1), 50);
        for (int i = 0; i < 50; i++)
        {
            names.Set(i, $"name {i}");
        }
        Assert.True(b.SegmentCount > 1);

        using MessageReader m = RoundTrip(b);
        Assert.Equal(b.SegmentCount, m.SegmentCount);
        StructReader r = m.GetRoot();
        Assert.Equal(77, r.ReadInt64(0));
        Assert.Equal(new string('x', 100), r.ReadText(0).ToString());
        TextList l = r.ReadAnyPointer(1).GetList<TextList>();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"name {i}"), l.ToStrings());
    }

    [Fact]
    public void CompositeListElementsAreStructs()
    {
        using var b = new MessageBuilder();
        ListBuilder l = b.Root.InitStructList(3, 1, 1);
        for (int i = 0; i < 3; i++)
        {
            l.GetStruct(i).WriteInt32(0, i * 10);
            l.GetStruct(i).SetText(0, i.ToString());
        }
        using MessageReader m = RoundTrip(b);
        ListReader r = m.Root.GetList(ElementSize.InlineComposite);
        Assert.Equal(ElementSize.InlineComposite, r.ElementSize);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(i * 10, r.GetStruct(i).ReadInt32(0));
            Assert.Equal(i.ToString(), r.GetStruct(i).ReadText(0).ToString());
        }
    }

    [Fact]
    public void ListsOfListsNest()
    {
        using var b = new MessageBuilder();
        var outer = ListListBuilder<PrimitiveListBuilder<short>>.Init(b.Root, 3);
        for (int i = 0; i < 3; i++)
        {
            PrimitiveListBuilder<short> inner = outer.Init(i, i + 1);
            for (int j = 0; j <= i; j++)
            {
                inner[j] = (short)(i * 100 + j);
            }
        }
        using MessageReader m = RoundTrip(b);
        var r = m.Root.GetList<ListList<PrimitiveList<short>>>();
        Assert.Equal(3, r.Count);
        Assert.Equal(new short[] { 200, 201, 202 }, r[2].ToArray());
        Assert.Equal(new short[] { 0 }, r[0].ToArray());
    }

    [Fact]
    public void GettingAStructWrittenWithAnOlderSmallerLayoutMovesItAndKeepsItsFields()
    {
        using var b = new MessageBuilder(firstSegmentWords: 4);
        StructBuilder root = b.InitRoot(0, 1);
        StructBuilder old = root.InitStruct(0, 1, 1);
        old.WriteInt64(0, 1234);
        old.SetText(0, "kept");
        StructBuilder grown = root.GetStruct(0, 2, 2);
        Assert.Equal(16, grown.DataBytes);
        Assert.Equal(2, grown.PointerCount);
        grown.WriteInt64(8, 99);
        grown.SetText(1, "new");

        using MessageReader m = RoundTrip(b);
        StructReader r = m.GetRoot().ReadStruct(0);
        Assert.Equal(1234, r.ReadInt64(0));
        Assert.Equal(99, r.ReadInt64(8));
        Assert.Equal("kept", r.ReadText(0).ToString());
        Assert.Equal("new", r.ReadText(1).ToString());
    }

    [Fact]
    public void DeepCopyIntoAnotherMessageKeepsEveryValue()
    {
        using var src = new MessageBuilder();
        StructBuilder root = src.InitRoot(1, 3);
        root.WriteUInt32(0, 9);
        root.SetText(0, "a");
        BoolListBuilder bits = BoolListBuilder.Init(root.GetAnyPointer(1), 70);
        bits[69] = true;
        bits[3] = true;
        root.SetCapability(2, 4);

        using var dst = new MessageBuilder(firstSegmentWords: 1);
        dst.SetRoot(src.AsReader().GetRoot());
        using MessageReader m = RoundTrip(dst);
        StructReader r = m.GetRoot();
        Assert.Equal(9u, r.ReadUInt32(0));
        Assert.Equal("a", r.ReadText(0).ToString());
        BoolList l = r.ReadAnyPointer(1).GetList<BoolList>();
        Assert.Equal(70, l.Count);
        Assert.True(l[69] && l[3] && !l[4]);
        Assert.Equal(4u, r.ReadCapability(2));
    }

    [Fact]
    public void ClearedBuilderStartsAnEmptyMessage()
    {
        using var b = new MessageBuilder(firstSegmentWords: 2);
        b.InitRoot(1, 1).SetText(0, new string('y', 64));
        b.Clear();
        Assert.Equal(1, b.SegmentCount);
        Assert.Equal(1, b.SizeInWords);
        b.InitRoot(1, 0).WriteInt32(0, 3);
        using MessageReader m = RoundTrip(b);
        Assert.Equal(3, m.GetRoot().ReadInt32(0));
        Assert.Equal(0, m.GetRoot().PointerCount);
    }

    [Fact]
    public void WritingOutsideTheStructIsRefused()
    {
        using var b = new MessageBuilder();
        StructBuilder root = b.InitRoot(1, 0);
        Assert.Throws<InvalidOperationException>(() => root.WriteInt32(8, 1));
        Assert.Throws<InvalidOperationException>(() => root.SetText(0, "x"));
    }
}
