using FsCheck.Xunit;
using Wetware.Capnp.Tests.Infrastructure;

namespace Wetware.Capnp.Tests.Properties;

public class RoundTripProperties
{
    [Property(MaxTest = 300)]
    public bool RandomMessagesReadBackWithEqualValuesAfterFraming(int seed, bool smallSegments)
    {
        using MessageBuilder b = RandomMessages.Build(seed, smallSegments ? 2 : 1024);
        string expected = Dump.Of(b.AsReader());
        using MessageReader m = Framing.Read(Framing.ToArray(b));
        return Dump.Of(m) == expected;
    }

    [Property(MaxTest = 300)]
    public bool CopyingIntoAMessageOfTinySegmentsKeepsTheValue(int seed)
    {
        using MessageBuilder b = RandomMessages.Build(seed);
        using var copy = new MessageBuilder(firstSegmentWords: 1);
        copy.Root.Set(b.AsReader().Root);
        using MessageReader m = Framing.Read(Framing.ToArray(copy));
        return Dump.Of(m) == Dump.Of(b.AsReader());
    }

    [Property(MaxTest = 300)]
    public bool CanonicalFormKeepsTheValueIsCanonicalAndIsAFixedPoint(int seed)
    {
        using MessageBuilder b = RandomMessages.Build(seed, 3);
        byte[] canonical = Canonical.Canonicalize(b.AsReader().GetRoot());
        using var m = new MessageReader(canonical);
        return Canonical.IsCanonical(m)
            && Dump.Of(m) == Dump.Of(b.AsReader())
            && Canonical.Canonicalize(m.GetRoot()).AsSpan().SequenceEqual(canonical);
    }

    [Property(MaxTest = 300)]
    public bool PackedAndUnpackedFormsOfRandomMessagesAreEquivalent(int seed, bool smallSegments)
    {
        using MessageBuilder b = RandomMessages.Build(seed, smallSegments ? 2 : 1024);
        byte[] framed = Framing.ToArray(b);
        byte[] packed = PackedFraming.ToArray(b);
        using MessageReader m = PackedFraming.Read(packed);
        return PackedDecoder.DecodeAll(packed).AsSpan().SequenceEqual(framed)
            && Dump.Of(m) == Dump.Of(b.AsReader());
    }

    [Fact]
    public void ResetReaderReadsTheNextMessageWithoutAllocatingANewSegmentTable()
    {
        using MessageBuilder a = RandomMessages.Build(1);
        using MessageBuilder b = RandomMessages.Build(2);
        using MessageReader m = Framing.Read(Framing.ToArray(a));
        Assert.Equal(Dump.Of(a.AsReader()), Dump.Of(m));
        m.Reset(Framing.ToArray(b));
        Assert.Equal(Dump.Of(b.AsReader()), Dump.Of(m));
    }
}
