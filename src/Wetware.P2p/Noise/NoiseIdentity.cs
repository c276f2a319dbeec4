using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Math.EC.Rfc7748;
using Org.BouncyCastle.Security;
using Wetware.Identity;

namespace Wetware.P2p.Noise;

/// <summary>
/// What a node proves in the Noise handshake (libp2p noise spec, "The libp2p Handshake Payload"): its X25519 static
/// key and the payload binding it to the identity key, a signature over <c>noise-libp2p-static-key:</c> followed by
/// the static public key. One per node: the static key may be reused across connections (the spec allows it), so the
/// payload is signed once.
/// </summary>
internal sealed class NoiseIdentity : IDisposable
{
    public const string SignaturePrefix = "noise-libp2p-static-key:";

    private readonly byte[] _staticPrivate = new byte[X25519.ScalarSize];

    private NoiseIdentity(PublicKey identityKey, Func<byte[], byte[]> sign)
    {
        X25519.GeneratePrivateKey(new SecureRandom(), _staticPrivate);
        StaticPublic = new byte[X25519.PointSize];
        X25519.GeneratePublicKey(_staticPrivate, 0, StaticPublic, 0);
        IdentityKey = identityKey;
        Signature = sign(SignedBytes(StaticPublic));
        Payload = EncodePayload(identityKey.Protobuf.Span, Signature);
    }

    public PublicKey IdentityKey { get; }

    public byte[] StaticPublic { get; }

    public byte[] Signature { get; }

    /// <summary>The encoded NoiseHandshakePayload protobuf this identity sends.</summary>
    public byte[] Payload { get; }

    public ReadOnlySpan<byte> StaticPrivate => _staticPrivate;

    public static NoiseIdentity From(NodeKey key) => new(key.PublicKey, data => key.SignLibp2p(data));

    /// <summary>For tests and other key types: any identity key and a signer that follows libp2p's key spec.</summary>
    public static NoiseIdentity Create(PublicKey identityKey, Func<byte[], byte[]> sign) => new(identityKey, sign);

    public static byte[] SignedBytes(ReadOnlySpan<byte> staticPublic) => [.. Encoding.ASCII.GetBytes(SignaturePrefix), .. staticPublic];

    /// <summary>NoiseHandshakePayload: identity_key = 1, identity_sig = 2 (extensions = 4 are not sent).</summary>
    public static byte[] EncodePayload(ReadOnlySpan<byte> identityKeyProtobuf, ReadOnlySpan<byte> signature)
    {
        var writer = new ArrayBufferWriter<byte>();
        Protobuf.WriteBytes(writer, 1, identityKeyProtobuf);
        Protobuf.WriteBytes(writer, 2, signature);
        return writer.WrittenSpan.ToArray();
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_staticPrivate);
}
