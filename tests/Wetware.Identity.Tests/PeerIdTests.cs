using System.Security.Cryptography;
using SimpleBase;

namespace Wetware.Identity.Tests;

/// <summary>Peer IDs: binary and text forms, parsing, equality.</summary>
public class PeerIdTests
{
    private const string Vector = "16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi";

    [Fact]
    public void ParsesTheVectorToTheIdentityMultihashOfTheKey()
    {
        using NodeKey key = NodeKey.FromSecret(Enumerable.Repeat((byte)0x01, 32).ToArray());
        PeerId id = PeerId.Parse(Vector);
        Assert.Equal(key.PeerId, id);
        Assert.Equal([0x00, 37, .. key.PublicKey.Protobuf.ToArray()], id.Bytes.ToArray());
        Assert.Equal(Vector, id.ToString());
        Assert.True(id.TryGetPublicKey(out PublicKey? carried));
        Assert.Equal(key.PublicKey, carried);
    }

    [Fact]
    public void CidFormRoundTrips()
    {
        using NodeKey key = NodeKey.Generate();
        string cid = key.PeerId.ToCidString();
        Assert.StartsWith("b", cid, StringComparison.Ordinal);
        Assert.Equal(key.PeerId, PeerId.Parse(cid));
        Assert.Equal(key.PeerId, PeerId.Parse(cid.ToUpperInvariant()));
        // The same CID in base58btc multibase.
        byte[] cidBytes = [0x01, 0x72, .. key.PeerId.Bytes.ToArray()];
        Assert.Equal(key.PeerId, PeerId.Parse("z" + Base58.Bitcoin.Encode(cidBytes)));
    }

    [Fact]
    public void FromBytesRoundTripsAndEqualityIsByValue()
    {
        using NodeKey key = NodeKey.Generate();
        PeerId copy = PeerId.FromBytes(key.PeerId.Bytes.ToArray());
        Assert.Equal(key.PeerId, copy);
        Assert.True(key.PeerId == copy);
        Assert.Equal(key.PeerId.GetHashCode(), copy.GetHashCode());
        using NodeKey other = NodeKey.Generate();
        Assert.True(key.PeerId != other.PeerId);
        Assert.True(default(PeerId).IsEmpty);
        Assert.NotEqual(default, key.PeerId);
        Assert.Equal(string.Empty, default(PeerId).ToString());
    }

    [Fact]
    public void KeysLongerThan42BytesAreHashedWithSha256()
    {
        byte[] longKey = RandomNumberGenerator.GetBytes(43);
        PeerId id = PeerId.FromPublicKey(longKey);
        Assert.Equal([0x12, 0x20, .. SHA256.HashData(longKey)], id.Bytes.ToArray());
        Assert.StartsWith("Qm", id.ToString(), StringComparison.Ordinal);
        Assert.Equal(id, PeerId.Parse(id.ToString()));
        Assert.False(id.TryGetPublicKey(out _));

        byte[] inline = RandomNumberGenerator.GetBytes(42);
        Assert.Equal([0x00, 42, .. inline], PeerId.FromPublicKey(inline).Bytes.ToArray());
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzN0", "not valid base58btc")]
    [InlineData("16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzN", "digest bytes")]
    [InlineData("hello", "neither base58btc")]
    [InlineData("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "codec is not libp2p-key")]
    [InlineData("b!!!", "not valid base32")]
    [InlineData("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5", "digest bytes")]
    public void ParseRefusesWhatIsNotAPeerId(string text, string reason)
    {
        IdentityFormatException e = Assert.Throws<IdentityFormatException>(() => PeerId.Parse(text));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.False(PeerId.TryParse(text, out _));
    }

    [Fact]
    public void ParsesAPublishedSha256PeerId()
    {
        // The example Peer ID of the libp2p peer-ids spec (an RSA key, hashed with sha2-256).
        PeerId id = PeerId.Parse("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
        Assert.Equal(34, id.Bytes.Length);
        Assert.Equal(0x12, id.Bytes.Span[0]);
        Assert.Equal("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", id.ToString());
    }

    [Theory]
    [InlineData(new byte[] { }, "malformed multihash header")]
    [InlineData(new byte[] { 0x00 }, "malformed multihash header")]
    [InlineData(new byte[] { 0x00, 0x00 }, "identity multihash of 0 bytes")]
    [InlineData(new byte[] { 0x00, 0x02, 1 }, "says 2 digest bytes but 1 follow")]
    [InlineData(new byte[] { 0x12, 0x01, 1 }, "a sha2-256 multihash of 1 bytes")]
    [InlineData(new byte[] { 0x13, 0x01, 1 }, "multihash code 0x13")]
    [InlineData(new byte[] { 0x80, 0x00, 0x01, 1 }, "malformed multihash header")]
    public void FromBytesRefusesWhatIsNotAMultihashPeerId(byte[] bytes, string reason)
    {
        IdentityFormatException e = Assert.Throws<IdentityFormatException>(() => PeerId.FromBytes(bytes));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnInlinedIdentityLongerThan42BytesIsRefused()
    {
        byte[] bytes = [0x00, 43, .. new byte[43]];
        Assert.Throws<IdentityFormatException>(() => PeerId.FromBytes(bytes));
    }
}
