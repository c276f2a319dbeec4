namespace Wetware.Identity.Tests;

/// <summary>The multiformats unsigned varint under Peer IDs, CIDs and the envelope, byte by byte.</summary>
public class UVarintTests
{
    [Theory]
    [InlineData(0UL, new byte[] { 0x00 })]
    [InlineData(1UL, new byte[] { 0x01 })]
    [InlineData(127UL, new byte[] { 0x7f })]
    [InlineData(128UL, new byte[] { 0x80, 0x01 })]
    [InlineData(255UL, new byte[] { 0xff, 0x01 })]
    [InlineData(300UL, new byte[] { 0xac, 0x02 })]
    [InlineData(16384UL, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData((1UL << 63) - 1, new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f })]
    public void WritesAndReadsTheMultiformatsExamples(ulong value, byte[] encoded)
    {
        var buffer = new byte[UVarint.MaxLength];
        int n = UVarint.Write(value, buffer);
        Assert.Equal(encoded, buffer[..n]);
        Assert.Equal(encoded.Length, UVarint.Size(value));
        Assert.True(UVarint.TryRead([.. encoded, 0xee], out ulong read, out int length));
        Assert.Equal(value, read);
        Assert.Equal(encoded.Length, length);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x80 })]
    [InlineData(new byte[] { 0xff, 0xff })]
    [InlineData(new byte[] { 0x81, 0x00 })] // 1 in two bytes: not minimal
    [InlineData(new byte[] { 0x80, 0x80, 0x00 })]
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 })] // a tenth byte
    public void RefusesTruncatedOverlongAndNonMinimalVarints(byte[] encoded)
    {
        Assert.False(UVarint.TryRead(encoded, out _, out _));
    }
}
