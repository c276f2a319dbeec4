using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using BcBigInteger = Org.BouncyCastle.Math.BigInteger;

namespace Wetware.Identity.Tests;

/// <summary>
/// Signatures as libp2p's key spec makes them (the Noise handshake payload): secp256k1 DER ECDSA over SHA-256 of the
/// bare data, Ed25519 over the bare data. Checked against BouncyCastle's DER encoder and ECDSA verifier.
/// </summary>
public class Libp2pSignatureTests
{
    private static readonly X9Holder Curve = new();

    [Fact]
    public void SecpSignaturesAreDerLowSAndVerifyIndependently()
    {
        using NodeKey key = NodeKey.Generate();
        for (int i = 0; i < 50; i++)
        {
            byte[] data = RandomNumberGenerator.GetBytes(i + 1);
            byte[] der = key.SignLibp2p(data);
            Assert.True(key.PublicKey.VerifyLibp2p(data, der));
            Assert.True(PublicKey.FromProtobuf(key.PublicKey.Protobuf.Span).VerifyLibp2p(data, der));
            var seq = (Asn1Sequence)Asn1Object.FromByteArray(der);
            BcBigInteger r = ((DerInteger)seq[0]).Value;
            BcBigInteger s = ((DerInteger)seq[1]).Value;
            Assert.True(s.CompareTo(Curve.N.ShiftRight(1)) <= 0, "high s");
            // BouncyCastle's DER of (r, s) is byte for byte ours.
            Assert.Equal(new DerSequence(new DerInteger(r), new DerInteger(s)).GetEncoded(), der);
            Assert.True(BouncyCastleVerify(key.PublicKey.Data.ToArray(), SHA256.HashData(data), r, s));
        }
    }

    [Fact]
    public void SecpSignatureMadeByBouncyCastleVerifies()
    {
        using NodeKey key = NodeKey.Generate();
        byte[] secret = new byte[32];
        Assert.True(KeyFile.TryParse(System.Text.Encoding.ASCII.GetBytes(key.ExportSecretBase58()), secret, out _));
        var signer = new ECDsaSigner(new HMacDsaKCalculator(new Org.BouncyCastle.Crypto.Digests.Sha256Digest()));
        signer.Init(true, new ECPrivateKeyParameters(new BcBigInteger(1, secret), Curve.Domain));
        byte[] data = "noise-libp2p-static-key:0123456789abcdef0123456789abcdef"u8.ToArray();
        BcBigInteger[] rs = signer.GenerateSignature(SHA256.HashData(data));
        BcBigInteger s = rs[1].CompareTo(Curve.N.ShiftRight(1)) > 0 ? Curve.N.Subtract(rs[1]) : rs[1];
        byte[] der = new DerSequence(new DerInteger(rs[0]), new DerInteger(s)).GetEncoded();
        Assert.True(key.PublicKey.VerifyLibp2p(data, der));

        // The same signature with high s, as a lenient signer might send it, is refused (js-libp2p's noble refuses it too).
        byte[] high = new DerSequence(new DerInteger(rs[0]), new DerInteger(Curve.N.Subtract(s))).GetEncoded();
        Assert.False(key.PublicKey.VerifyLibp2p(data, high));
    }

    [Fact]
    public void MalformedOrChangedSecpSignaturesAreRefused()
    {
        using NodeKey key = NodeKey.Generate();
        using NodeKey other = NodeKey.Generate();
        byte[] data = [1, 2, 3, 4];
        byte[] der = key.SignLibp2p(data);
        Assert.False(key.PublicKey.VerifyLibp2p([1, 2, 3, 5], der));
        Assert.False(other.PublicKey.VerifyLibp2p(data, der));
        Assert.False(key.PublicKey.VerifyLibp2p(data, [.. der, 0]));
        Assert.False(key.PublicKey.VerifyLibp2p(data, der[..^1]));
        Assert.False(key.PublicKey.VerifyLibp2p(data, []));
        Assert.False(key.PublicKey.VerifyLibp2p(data, new byte[64]));
        // The 64-byte compact form of the signing envelope is not what libp2p's key spec uses here.
        Assert.False(key.PublicKey.VerifyLibp2p(data, key.Sign("d", "t", data)));
        for (int i = 0; i < der.Length; i++)
        {
            byte[] flipped = (byte[])der.Clone();
            flipped[i] ^= 0x01;
            Assert.False(key.PublicKey.VerifyLibp2p(data, flipped));
        }
    }

    [Fact]
    public void Ed25519SignaturesOverTheBareDataVerify()
    {
        Ed25519Keys keys = Ed25519Keys.New();
        byte[] data = RandomNumberGenerator.GetBytes(56);
        byte[] sig = keys.Sign(data);
        Assert.True(keys.Public.VerifyLibp2p(data, sig));
        Assert.False(keys.Public.VerifyLibp2p([.. data, 0], sig));
        Assert.False(keys.Public.VerifyLibp2p(data, sig[..63]));
        Assert.False(Ed25519Keys.New().Public.VerifyLibp2p(data, sig));
    }

    private static bool BouncyCastleVerify(byte[] compressedPoint, byte[] digest, BcBigInteger r, BcBigInteger s)
    {
        var publicKey = new ECPublicKeyParameters(Curve.Domain.Curve.DecodePoint(compressedPoint), Curve.Domain);
        var ecdsa = new ECDsaSigner();
        ecdsa.Init(false, publicKey);
        return ecdsa.VerifySignature(digest, r, s);
    }

    private sealed class X9Holder
    {
        public X9Holder()
        {
            var curve = SecNamedCurves.GetByName("secp256k1");
            Domain = new ECDomainParameters(curve.Curve, curve.G, curve.N, curve.H);
        }

        public ECDomainParameters Domain { get; }

        public BcBigInteger N => Domain.N;
    }
}
