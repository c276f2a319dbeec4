namespace Wetware.Ipfs.Tests;

public sealed class CidTests
{
    private const string V0 = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN";
    private const string V1Base32 = "bafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk4";

    [Fact]
    public void CidV0ParsesAndPrintsInBase58()
    {
        Cid cid = Cid.Parse(V0);
        Assert.Equal(0, cid.Version);
        Assert.Equal(Cid.DagPb, cid.Codec);
        Assert.Equal(34, cid.Bytes.Length);
        Assert.Equal(V0, cid.ToString());
    }

    [Fact]
    public void CidV0AsV1IsTheSameDagPbCidInBase32()
    {
        Cid v1 = Cid.Parse(V0).ToV1();
        Assert.Equal(V1Base32, v1.ToString());
        Assert.Equal(v1, Cid.Parse(V1Base32));
        Assert.NotEqual(Cid.Parse(V0), v1);
    }

    [Fact]
    public void Base58AndBase32SpellingsAreTheSameCid()
    {
        // js-ipfs prints CIDv1 in base58btc, Kubo in base32.
        Cid v1 = Cid.Parse(V1Base32);
        string base58 = v1.ToBase58String();
        Assert.StartsWith("z", base58);
        Assert.Equal(v1, Cid.Parse(base58));
        Assert.Equal(v1, Cid.Parse(V1Base32.ToUpperInvariant().Replace("BAFY", "BAFY", StringComparison.Ordinal)));
        Assert.Equal(v1, Cid.Parse("f" + Convert.ToHexString(v1.Bytes).ToLowerInvariant()));
        Assert.Equal(v1.GetHashCode(), Cid.Parse(base58).GetHashCode());
    }

    [Fact]
    public void BinaryCidsRoundTrip()
    {
        Cid v0 = Cid.Parse(V0);
        Assert.Equal(v0, Cid.FromBytes(v0.Bytes));
        Cid v1 = Cid.Parse("bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am");
        Assert.Equal(Cid.Raw, v1.Codec);
        Assert.Equal(v1, Cid.FromBytes(v1.ToArray()));
        Assert.Equal(v1, Cid.V1(Cid.Raw, v1.Multihash.Span));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Qm")]
    [InlineData("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXE0")]
    [InlineData("xafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk4")]
    [InlineData("bafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk")]
    [InlineData("b!!!")]
    [InlineData("/ipfs/QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN")]
    public void MalformedTextIsRefusedWithAReason(string text)
    {
        Assert.False(Cid.TryParse(text, out _, out string? reason));
        Assert.False(string.IsNullOrEmpty(reason));
        Assert.Throws<FormatException>(() => Cid.Parse(text));
    }

    [Fact]
    public void AMultihashWhoseLengthDisagreesIsRefused()
    {
        byte[] bytes = Cid.Parse(V1Base32).ToArray();
        Assert.False(Cid.TryFromBytes(bytes.AsSpan(0, bytes.Length - 1), out _, out string? reason));
        Assert.Contains("digest", reason);
    }
}
