namespace Wetware.Identity.Tests;

/// <summary>Published vectors: identity.md's Peer ID, EIP-55's examples, the well-known address of secret 1.</summary>
public class KeyVectorTests
{
    [Fact]
    public void SecretOfOnesGivesThePeerIdOfIdentityMd()
    {
        using NodeKey key = NodeKey.FromSecret(Enumerable.Repeat((byte)0x01, 32).ToArray());
        Assert.Equal("16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi", key.PeerId.ToString());
    }

    [Fact]
    public void SecretOneGivesTheWellKnownEvmAddress()
    {
        var secret = new byte[32];
        secret[31] = 1;
        using NodeKey key = NodeKey.FromSecret(secret);
        Assert.Equal("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf", key.EvmAddress);
    }

    [Theory]
    // The examples of EIP-55 itself.
    [InlineData("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    [InlineData("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")]
    [InlineData("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB")]
    [InlineData("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb")]
    [InlineData("0x52908400098527886E0F7030069857D2E4169EE7")]
    [InlineData("0x8617E340B3D01FA5F11F306F4090FD50E238070D")]
    [InlineData("0xde709f2102306220921060314715629080e2fb77")]
    [InlineData("0x27b1fdb04752bbc536007a920d24acb045561c26")]
    public void ChecksumAddressMatchesEip55Examples(string expected)
    {
        byte[] address = Convert.FromHexString(expected[2..]);
        Assert.Equal(expected, Evm.ChecksumAddress(address));
    }

    [Fact]
    public void ChecksumAddressRefusesWrongLengths()
    {
        Assert.Throws<ArgumentException>(() => Evm.ChecksumAddress(new byte[19]));
        Assert.Throws<ArgumentException>(() => Evm.ChecksumAddress(new byte[32]));
    }

    [Fact]
    public void EvmAddressNeedsASecp256k1Key()
    {
        PublicKey ed = Ed25519Keys.New().Public;
        Assert.Throws<ArgumentException>(() => Evm.Address(ed));
    }

    [Fact]
    public void PublicKeyIsTheCompressedPointInTheLibp2pProtobuf()
    {
        using NodeKey key = NodeKey.Generate();
        Assert.Equal(KeyType.Secp256k1, key.PublicKey.Type);
        Assert.Equal(33, key.PublicKey.Data.Length);
        Assert.True(key.PublicKey.Data.Span[0] is 0x02 or 0x03);
        // peer-ids spec: field 1 (Type = 2), field 2 (Data, length 33).
        Assert.Equal([0x08, 0x02, 0x12, 0x21, .. key.PublicKey.Data.ToArray()], key.PublicKey.Protobuf.ToArray());
    }

    [Fact]
    public void GeneratedKeysDiffer()
    {
        using NodeKey a = NodeKey.Generate();
        using NodeKey b = NodeKey.Generate();
        Assert.NotEqual(a.PeerId, b.PeerId);
        Assert.NotEqual(a.ExportSecretBase58(), b.ExportSecretBase58());
    }

    [Fact]
    public void ToStringShowsThePeerIdAndNotTheSecret()
    {
        using NodeKey key = NodeKey.Generate();
        string shown = key.ToString();
        Assert.Contains(key.PeerId.ToString(), shown, StringComparison.Ordinal);
        Assert.DoesNotContain(key.ExportSecretBase58(), shown, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteSecretGivesTheSecretTheKeyWasMadeFrom()
    {
        byte[] secret = Convert.FromHexString("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
        using NodeKey key = NodeKey.FromSecret(secret);
        Span<byte> written = stackalloc byte[32];
        key.WriteSecret(written);
        Assert.Equal(secret, written.ToArray());
        Assert.Throws<ArgumentException>(() => key.WriteSecret(new byte[31]));
        Assert.Throws<ArgumentException>(() => key.WriteSecret(new byte[33]));
    }

    [Fact]
    public void FromSecretRefusesZeroOrderAndWrongLengthsWithoutShowingThem()
    {
        byte[] order = Convert.FromHexString(Secp256k1Order.Hex);
        ArgumentException zero = Assert.Throws<ArgumentException>(() => NodeKey.FromSecret(new byte[32]));
        Assert.Contains("zero", zero.Message, StringComparison.Ordinal);
        ArgumentException atOrder = Assert.Throws<ArgumentException>(() => NodeKey.FromSecret(order));
        Assert.Contains("order", atOrder.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secp256k1Order.Hex, atOrder.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Throws<ArgumentException>(() => NodeKey.FromSecret(new byte[31]));
        Assert.Throws<ArgumentException>(() => NodeKey.FromSecret(new byte[33]));
    }

    [Fact]
    public void TheLargestSecretBelowTheOrderIsAccepted()
    {
        byte[] secret = Convert.FromHexString(Secp256k1Order.Hex);
        secret[31]--;
        using NodeKey key = NodeKey.FromSecret(secret);
        Assert.StartsWith("16Uiu2", key.PeerId.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void DisposedKeyRefusesToSignButKeepsItsPublicParts()
    {
        NodeKey key = NodeKey.Generate();
        PeerId id = key.PeerId;
        key.Dispose();
        Assert.Equal(id, key.PeerId);
        Assert.ThrowsAny<ObjectDisposedException>(() => key.Sign("d", "t", [1]));
    }
}
