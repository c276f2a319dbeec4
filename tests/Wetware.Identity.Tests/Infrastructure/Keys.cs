using System.Numerics;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;

namespace Wetware.Identity.Tests;

/// <summary>The secp256k1 group order n (SEC 2).</summary>
internal static class Secp256k1Order
{
    public const string Hex = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

    public static readonly BigInteger N = BigInteger.Parse("0" + Hex, System.Globalization.NumberStyles.HexNumber);

    public static BigInteger ToInteger(ReadOnlySpan<byte> bigEndian) => new(bigEndian, isUnsigned: true, isBigEndian: true);

    public static byte[] ToBytes32(BigInteger value)
    {
        var bytes = new byte[32];
        value.TryWriteBytes(bytes.AsSpan(32 - value.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return bytes;
    }
}

/// <summary>Ed25519 keys and signatures made by BouncyCastle, independently of the library under test.</summary>
internal sealed record Ed25519Keys(Ed25519PrivateKeyParameters Private, PublicKey Public)
{
    public static Ed25519Keys New()
    {
        var generator = new Ed25519KeyPairGenerator();
        generator.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
        var pair = generator.GenerateKeyPair();
        var priv = (Ed25519PrivateKeyParameters)pair.Private;
        return new Ed25519Keys(priv, PublicKey.FromEd25519(((Ed25519PublicKeyParameters)pair.Public).GetEncoded()));
    }

    public byte[] Sign(byte[] message)
    {
        var signer = new Ed25519Signer();
        signer.Init(true, Private);
        signer.BlockUpdate(message, 0, message.Length);
        return signer.GenerateSignature();
    }
}
