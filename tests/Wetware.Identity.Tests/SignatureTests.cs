using System.Numerics;
using System.Security.Cryptography;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Math;
using BigInteger = System.Numerics.BigInteger;

namespace Wetware.Identity.Tests;

/// <summary>Signatures over the signing envelope: secp256k1 compact low-s, Ed25519, the graft challenge.</summary>
public class SignatureTests
{
    [Fact]
    public void SignThenVerifyRoundTrips()
    {
        using NodeKey key = NodeKey.Generate();
        byte[] payload = RandomNumberGenerator.GetBytes(100);
        byte[] sig = key.Sign("my-domain", "/my/type", payload);
        Assert.Equal(64, sig.Length);
        Assert.True(key.PublicKey.Verify("my-domain", "/my/type", payload, sig));
        PublicKey fromWire = PublicKey.FromProtobuf(key.PublicKey.Protobuf.Span);
        Assert.True(fromWire.Verify("my-domain", "/my/type", payload, sig));
    }

    [Fact]
    public void SignaturesAreDeterministicAndAlwaysLowS()
    {
        using NodeKey key = NodeKey.Generate();
        BigInteger half = Secp256k1Order.N / 2;
        for (int i = 0; i < 200; i++)
        {
            byte[] payload = BitConverter.GetBytes(i);
            byte[] sig = key.Sign("d", "t", payload);
            Assert.True(Secp256k1Order.ToInteger(sig.AsSpan(32)) <= half, $"signature {i} has a high s");
            Assert.Equal(sig, key.Sign("d", "t", payload));
        }
    }

    [Fact]
    public void AnythingChangedFailsVerification()
    {
        using NodeKey key = NodeKey.Generate();
        using NodeKey other = NodeKey.Generate();
        byte[] payload = [1, 2, 3];
        byte[] sig = key.Sign("domain", "type", payload);
        Assert.False(key.PublicKey.Verify("domain2", "type", payload, sig));
        Assert.False(key.PublicKey.Verify("domain", "type2", payload, sig));
        Assert.False(key.PublicKey.Verify("domain", "type", [1, 2, 4], sig));
        Assert.False(other.PublicKey.Verify("domain", "type", payload, sig));
        // The envelope's lengths keep field boundaries apart: moving a byte from domain to type is another message.
        Assert.False(key.PublicKey.Verify("domai", "ntype", payload, sig));
        for (int bit = 0; bit < 512; bit += 37)
        {
            byte[] flipped = (byte[])sig.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(key.PublicKey.Verify("domain", "type", payload, flipped));
        }
    }

    [Fact]
    public void WrongLengthsAndOutOfRangeValuesFailVerification()
    {
        using NodeKey key = NodeKey.Generate();
        byte[] sig = key.Sign("d", "t", [9]);
        Assert.False(key.PublicKey.Verify("d", "t", [9], sig[..63]));
        Assert.False(key.PublicKey.Verify("d", "t", [9], [.. sig, 0]));
        Assert.False(key.PublicKey.Verify("d", "t", [9], []));
        Assert.False(key.PublicKey.Verify("d", "t", [9], new byte[64]));
        byte[] order = Convert.FromHexString(Secp256k1Order.Hex);
        Assert.False(key.PublicKey.Verify("d", "t", [9], [.. order, .. sig[32..]]));
        Assert.False(key.PublicKey.Verify("d", "t", [9], [.. sig[..32], .. order]));
    }

    [Fact]
    public void HighSFormOfAValidSignatureIsRejected()
    {
        using NodeKey key = NodeKey.Generate();
        byte[] payload = [7, 7, 7];
        byte[] sig = key.Sign("d", "t", payload);
        BigInteger s = Secp256k1Order.ToInteger(sig.AsSpan(32));
        byte[] highS = [.. sig[..32], .. Secp256k1Order.ToBytes32(Secp256k1Order.N - s)];

        // (r, n - s) is the same signature mathematically: BouncyCastle's ECDSA, which does not insist on low s, accepts it.
        byte[] digest = SHA256.HashData(SigningEnvelope.Build("d", "t", payload));
        Assert.True(BouncyCastleVerify(key.PublicKey.Data.ToArray(), digest, sig));
        Assert.True(BouncyCastleVerify(key.PublicKey.Data.ToArray(), digest, highS));
        // identity.md: verification rejects high s.
        Assert.False(key.PublicKey.Verify("d", "t", payload, highS));
    }

    [Fact]
    public void SignatureVerifiesWithAnIndependentEcdsa()
    {
        using NodeKey key = NodeKey.Generate();
        byte[] payload = RandomNumberGenerator.GetBytes(40);
        byte[] sig = key.Sign("independent", "/x", payload);
        byte[] digest = SHA256.HashData(SigningEnvelope.Build("independent", "/x", payload));
        Assert.True(BouncyCastleVerify(key.PublicKey.Data.ToArray(), digest, sig));
    }

    [Fact]
    public void Ed25519SignaturesOverTheEnvelopeVerify()
    {
        Ed25519Keys keys = Ed25519Keys.New();
        byte[] payload = RandomNumberGenerator.GetBytes(33);
        byte[] sig = keys.Sign(SigningEnvelope.Build("ed-domain", "/ed/type", payload));
        Assert.True(keys.Public.Verify("ed-domain", "/ed/type", payload, sig));
        Assert.True(PublicKey.FromProtobuf(keys.Public.Protobuf.Span).Verify("ed-domain", "/ed/type", payload, sig));
        Assert.False(keys.Public.Verify("ed-domain2", "/ed/type", payload, sig));
        Assert.False(Ed25519Keys.New().Public.Verify("ed-domain", "/ed/type", payload, sig));
        byte[] flipped = (byte[])sig.Clone();
        flipped[10] ^= 1;
        Assert.False(keys.Public.Verify("ed-domain", "/ed/type", payload, flipped));
        Assert.False(keys.Public.Verify("ed-domain", "/ed/type", payload, sig[..63]));
        // A signature over the bare payload, not the envelope, is not accepted.
        Assert.False(keys.Public.Verify("ed-domain", "/ed/type", payload, keys.Sign(payload)));
    }

    [Fact]
    public void GraftSignatureVerifiesOnlyForItsAudienceAndEpoch()
    {
        using NodeKey signer = NodeKey.Generate();
        using NodeKey host = NodeKey.Generate();
        using NodeKey otherHost = NodeKey.Generate();
        ulong nonce = 0x0123456789abcdef;
        byte[] sig = signer.Sign(GraftChallenge.Domain, GraftChallenge.PayloadType, GraftChallenge.Payload(nonce, 5, host.PeerId));

        Assert.True(signer.PublicKey.Verify(GraftChallenge.Domain, GraftChallenge.PayloadType, GraftChallenge.Payload(nonce, 5, host.PeerId), sig));
        // Relayed to another node: that node rebuilds the payload with its own Peer ID.
        Assert.False(signer.PublicKey.Verify(GraftChallenge.Domain, GraftChallenge.PayloadType, GraftChallenge.Payload(nonce, 5, otherHost.PeerId), sig));
        // Replayed in a later epoch, or for another nonce.
        Assert.False(signer.PublicKey.Verify(GraftChallenge.Domain, GraftChallenge.PayloadType, GraftChallenge.Payload(nonce, 6, host.PeerId), sig));
        Assert.False(signer.PublicKey.Verify(GraftChallenge.Domain, GraftChallenge.PayloadType, GraftChallenge.Payload(nonce + 1, 5, host.PeerId), sig));
    }

    private static bool BouncyCastleVerify(byte[] compressedPoint, byte[] digest, byte[] compact)
    {
        var curve = SecNamedCurves.GetByName("secp256k1");
        var domain = new ECDomainParameters(curve.Curve, curve.G, curve.N, curve.H);
        var publicKey = new ECPublicKeyParameters(curve.Curve.DecodePoint(compressedPoint), domain);
        var ecdsa = new ECDsaSigner();
        ecdsa.Init(false, publicKey);
        return ecdsa.VerifySignature(digest, new Org.BouncyCastle.Math.BigInteger(1, compact, 0, 32), new Org.BouncyCastle.Math.BigInteger(1, compact, 32, 32));
    }
}
