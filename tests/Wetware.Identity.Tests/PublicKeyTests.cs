namespace Wetware.Identity.Tests;

/// <summary>The libp2p public-key protobuf, parsed from raw bytes.</summary>
public class PublicKeyTests
{
    private static readonly byte[] VectorPoint = VectorKey().PublicKey.Data.ToArray();

    [Fact]
    public void ParsesSecp256k1()
    {
        PublicKey key = PublicKey.FromProtobuf([0x08, 0x02, 0x12, 0x21, .. VectorPoint]);
        Assert.Equal(KeyType.Secp256k1, key.Type);
        Assert.Equal(VectorPoint, key.Data.ToArray());
        Assert.Equal("16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi", key.PeerId.ToString());
    }

    [Fact]
    public void ParsesEd25519AndItsPeerIdIsTheInlinedForm()
    {
        Ed25519Keys keys = Ed25519Keys.New();
        byte[] raw = keys.Public.Data.ToArray();
        PublicKey key = PublicKey.FromProtobuf([0x08, 0x01, 0x12, 0x20, .. raw]);
        Assert.Equal(KeyType.Ed25519, key.Type);
        Assert.Equal(raw, key.Data.ToArray());
        Assert.Equal(keys.Public, key);
        // Identity multihash of the 36-byte protobuf: 0x00 0x24 ...; its base58btc always starts 12D3KooW.
        Assert.Equal([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, .. raw], key.PeerId.Bytes.ToArray());
        Assert.StartsWith("12D3KooW", key.PeerId.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0x08, 0x00, 0x12, 0x03, 1, 2, 3 }, "RSA public keys are not supported")]
    [InlineData(new byte[] { 0x08, 0x03, 0x12, 0x03, 1, 2, 3 }, "ECDSA (P-256) public keys are not supported")]
    [InlineData(new byte[] { 0x08, 0x07, 0x12, 0x01, 1 }, "unknown public key type 7")]
    [InlineData(new byte[] { 0x08, 0x02 }, "the Data field is missing")]
    [InlineData(new byte[] { 0x12, 0x01, 0x00 }, "the Type field is missing")]
    [InlineData(new byte[] { }, "the Type field is missing")]
    [InlineData(new byte[] { 0x08, 0x02, 0x08, 0x02 }, "Type appears twice")]
    [InlineData(new byte[] { 0x08, 0x01, 0x12, 0x21, 1, 2 }, "Data is truncated")]
    [InlineData(new byte[] { 0x08, 0x01, 0x1a, 0x00 }, "unexpected field 3")]
    [InlineData(new byte[] { 0x08, 0x01, 0x10, 0x01 }, "unexpected field 2 (wire type 0)")]
    [InlineData(new byte[] { 0x08, 0x81 }, "a malformed Type")]
    [InlineData(new byte[] { 0x80 }, "a malformed field tag")]
    [InlineData(new byte[] { 0x08, 0x01, 0x12, 0x02, 1, 2 }, "an Ed25519 public key is 32 bytes, not 2")]
    [InlineData(new byte[] { 0x08, 0x02, 0x12, 0x02, 1, 2 }, "a secp256k1 public key is a 33-byte compressed point, not 2 bytes")]
    public void RefusesMalformedOrUnsupportedKeysWithTheReason(byte[] protobuf, string reason)
    {
        IdentityFormatException e = Assert.Throws<IdentityFormatException>(() => PublicKey.FromProtobuf(protobuf));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesAnEncodingOtherThanTheDeterministicOne()
    {
        // Data before Type, and a non-minimal length varint: both decode, but the Peer ID hashes the exact bytes.
        byte[] reordered = [0x12, 0x21, .. VectorPoint, 0x08, 0x02];
        byte[] longLength = [0x08, 0x02, 0x12, 0xa1, 0x00, .. VectorPoint];
        Assert.Contains("deterministic", Assert.Throws<IdentityFormatException>(() => PublicKey.FromProtobuf(reordered)).Message, StringComparison.Ordinal);
        Assert.Throws<IdentityFormatException>(() => PublicKey.FromProtobuf(longLength));
        Assert.Throws<IdentityFormatException>(() => PublicKey.FromProtobuf([0x08, 0x02, 0x12, 0x21, .. VectorPoint, 0x00]));
    }

    [Fact]
    public void RefusesPointsOffTheCurve()
    {
        byte[] badPrefix = [0x05, .. VectorPoint[1..]];
        Assert.Contains("not a point", Assert.Throws<IdentityFormatException>(() => PublicKey.FromSecp256k1(badPrefix)).Message, StringComparison.Ordinal);
        byte[] uncompressed = new byte[65];
        Assert.Throws<IdentityFormatException>(() => PublicKey.FromSecp256k1(uncompressed));
        // y = 2^255 - 1 is not below the field prime: no Ed25519 point is encoded so.
        byte[] notCanonical = [.. Enumerable.Repeat((byte)0xff, 31), 0x7f];
        Assert.Contains("not a point", Assert.Throws<IdentityFormatException>(() => PublicKey.FromEd25519(notCanonical)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EqualityIsByKey()
    {
        using NodeKey a = NodeKey.Generate();
        Assert.Equal(a.PublicKey, PublicKey.FromProtobuf(a.PublicKey.Protobuf.Span));
        Assert.Equal(a.PublicKey.GetHashCode(), PublicKey.FromSecp256k1(a.PublicKey.Data.Span).GetHashCode());
        using NodeKey b = NodeKey.Generate();
        Assert.NotEqual(a.PublicKey, b.PublicKey);
    }

    private static NodeKey VectorKey() => NodeKey.FromSecret(Enumerable.Repeat((byte)0x01, 32).ToArray());
}
