using Wetware.Capnp.Tests.Infrastructure;
using static Wetware.Capnp.Tests.Infrastructure.Words;

namespace Wetware.Capnp.Tests.Encoding;

public class LimitTests
{
    [Fact]
    public void ListOfZeroSizedStructsClaimingHalfABillionElementsIsStoppedByTheTraversalLimit()
    {
        // The amplification attack: 3 words claim 2^29 - 1 elements that take no space.
        using var m = Message(List(0, ElementSize.InlineComposite, 0), Struct(0x1FFF_FFFF, 0, 0));
        var e = Assert.Throws<CapnpLimitException>(() => m.Root.GetList(ElementSize.InlineComposite));
        Assert.Equal(CapnpLimit.TraversalWords, e.Limit);
        Assert.Equal(ReaderOptions.DefaultTraversalLimitWords, e.Value);
        Assert.Contains("traversal", e.Message);
    }

    [Fact]
    public void VoidListClaimingHalfABillionElementsIsStoppedByTheTraversalLimit()
    {
        using var m = Message(List(0, ElementSize.Void, 0x1FFF_FFFF));
        var e = Assert.Throws<CapnpLimitException>(() => m.Root.GetList<VoidList>());
        Assert.Equal(CapnpLimit.TraversalWords, e.Limit);
    }

    [Fact]
    public void ReadingTheSameListOverAndOverIsStoppedByTheTraversalLimit()
    {
        var options = new ReaderOptions { TraversalLimitWords = 1000 };
        using var m = Message(options, [Struct(0, 0, 1), List(0, ElementSize.EightBytes, 100), .. new ulong[100]]);
        for (int i = 0; i < 9; i++)
        {
            m.GetRoot().ReadList(0, ElementSize.EightBytes);
        }
        Assert.Throws<CapnpLimitException>(() => m.GetRoot().ReadList(0, ElementSize.EightBytes));
        m.ResetTraversalLimit();
        Assert.Equal(100, m.GetRoot().ReadList(0, ElementSize.EightBytes).Count);
    }

    [Fact]
    public void StructPointingAtItselfIsStoppedByTheNestingLimit()
    {
        // root -> struct (0 data, 1 ptr) whose pointer points back at that same struct.
        using var m = Message(Struct(0, 0, 1), Struct(-2, 0, 1));
        StructReader r = m.GetRoot();
        var e = Assert.Throws<CapnpLimitException>(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                r = r.ReadStruct(0);
            }
        });
        Assert.Equal(CapnpLimit.NestingDepth, e.Limit);
        Assert.Equal(64, e.Value);
    }

    [Fact]
    public void NestingUpToTheLimitIsAllowed()
    {
        using var builder = new MessageBuilder();
        StructBuilder b = builder.InitRoot(1, 1);
        for (int i = 0; i < 63; i++)
        {
            b = b.InitStruct(0, 1, 1);
            b.WriteInt32(0, i);
        }
        using MessageReader m = Framing.Read(Framing.ToArray(builder));
        StructReader r = m.GetRoot();
        for (int i = 0; i < 63; i++)
        {
            r = r.ReadStruct(0);
            Assert.Equal(i, r.ReadInt32(0));
        }
        using MessageReader shallow = Framing.Read(Framing.ToArray(builder), new ReaderOptions { NestingLimit = 10 });
        r = shallow.GetRoot();
        Assert.Throws<CapnpLimitException>(() =>
        {
            for (int i = 0; i < 63; i++)
            {
                r = r.ReadStruct(0);
            }
        });
    }

    [Fact]
    public void SegmentTableAnnouncingTooManySegmentsIsRejectedBeforeTheBodyArrives()
    {
        byte[] header = new byte[8];
        BitConverter.TryWriteBytes(header, 1000u);
        var e = Assert.Throws<CapnpLimitException>(() => Framing.Read(header));
        Assert.Equal(CapnpLimit.SegmentCount, e.Limit);
        Assert.Equal(512, e.Value);
    }

    [Fact]
    public void SegmentTableAnnouncingAHugeMessageIsRejectedBeforeTheBodyArrives()
    {
        byte[] header = new byte[8];
        BitConverter.TryWriteBytes(header.AsSpan(4), 0x1000_0000u); // 2 GiB
        var e = Assert.Throws<CapnpLimitException>(() => Framing.Read(header));
        Assert.Equal(CapnpLimit.MessageSize, e.Limit);
        Assert.Contains("message size", e.Message);
    }

    [Fact]
    public void SegmentCountOverflowingThirtyTwoBitsIsRejected()
    {
        byte[] header = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];
        Assert.Throws<CapnpLimitException>(() => Framing.Read(header));
    }
}
