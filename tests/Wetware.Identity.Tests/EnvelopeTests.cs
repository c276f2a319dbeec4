using System.Text;

namespace Wetware.Identity.Tests;

/// <summary>The signing envelope's bytes (identity.md) and the graft payload's layout, byte by byte.</summary>
public class EnvelopeTests
{
    [Fact]
    public void GraftEnvelopeIsLengthPrefixedDomainTypeAndPayload()
    {
        byte[] envelope = SigningEnvelope.Build(GraftChallenge.Domain, GraftChallenge.PayloadType, [0xaa, 0xbb]);
        byte[] expected =
        [
            17, .. "ww-membrane-graft"u8,
            24, .. "/ww/membrane/graft-nonce"u8,
            2, 0xaa, 0xbb,
        ];
        Assert.Equal(expected, envelope);
    }

    [Fact]
    public void EmptyFieldsAreThreeZeroLengths()
    {
        Assert.Equal([0, 0, 0], SigningEnvelope.Build(string.Empty, string.Empty, []));
    }

    [Fact]
    public void LengthsOfOneHundredTwentyEightAndMoreTakeSeveralVarintBytes()
    {
        string domain = new('d', 127);
        string type = new('t', 128);
        byte[] payload = new byte[300];
        byte[] envelope = SigningEnvelope.Build(domain, type, payload);
        byte[] expected =
        [
            0x7f, .. Encoding.ASCII.GetBytes(domain),
            0x80, 0x01, .. Encoding.ASCII.GetBytes(type),
            0xac, 0x02, .. payload,
        ];
        Assert.Equal(expected, envelope);
    }

    [Fact]
    public void DomainAndTypeAreUtf8()
    {
        byte[] envelope = SigningEnvelope.Build("é", "/ü", []);
        Assert.Equal([2, 0xc3, 0xa9, 3, (byte)'/', 0xc3, 0xbc, 0], envelope);
    }

    [Fact]
    public void StringAndByteFormsAgree()
    {
        byte[] payload = [1, 2, 3];
        Assert.Equal(
            SigningEnvelope.Build("dom", "typ", payload),
            SigningEnvelope.Build("dom"u8, "typ"u8, payload));
    }

    [Fact]
    public void GraftPayloadIsBigEndianNonceThenEpochThenAudience()
    {
        byte[] audience = [0x00, 0x25, 0x08, 0x02];
        byte[] payload = GraftChallenge.Payload(0x0102030405060708, 0x1112131415161718, audience);
        Assert.Equal(
            [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, .. audience],
            payload);
    }

    [Fact]
    public void GraftPayloadForAPeerIdCarriesItsBinaryForm()
    {
        using NodeKey key = NodeKey.Generate();
        byte[] payload = GraftChallenge.Payload(1, 2, key.PeerId);
        Assert.Equal(16 + key.PeerId.Bytes.Length, payload.Length);
        Assert.Equal(key.PeerId.Bytes.ToArray(), payload[16..]);
        Assert.Equal("ww-membrane-graft", GraftChallenge.Domain);
        Assert.Equal("/ww/membrane/graft-nonce", GraftChallenge.PayloadType);
    }
}
