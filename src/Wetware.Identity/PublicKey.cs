using System.Security.Cryptography;
using NBitcoin.Secp256k1;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Wetware.Identity;

/// <summary>
/// A peer's public key in libp2p's form: the <c>PublicKey</c> protobuf (peer-ids spec: <c>Type</c> field 1,
/// <c>Data</c> field 2, deterministic encoding). secp256k1 (33-byte compressed point) and Ed25519 (32 bytes) are
/// accepted; RSA and ECDSA keys are refused. Signatures are checked over the signing envelope of identity.md.
/// </summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    private const int Secp256k1Length = 33;
    private const int Ed25519Length = 32;
    private const int SignatureLength = 64;

    private readonly byte[] _data;
    private readonly byte[] _protobuf;
    private readonly ECPubKey? _secp256k1;

    private PublicKey(KeyType type, byte[] data, ECPubKey? secp256k1)
    {
        Type = type;
        _data = data;
        _secp256k1 = secp256k1;
        _protobuf = Encode(type, data);
        PeerId = PeerId.FromPublicKey(_protobuf);
    }

    /// <summary>Secp256k1 or Ed25519.</summary>
    public KeyType Type { get; }

    /// <summary>The key itself: the 33-byte compressed secp256k1 point, or the 32-byte Ed25519 key.</summary>
    public ReadOnlyMemory<byte> Data => _data;

    /// <summary>The libp2p public-key protobuf (what <c>Signer.sign</c> returns as <c>publicKey</c>).</summary>
    public ReadOnlyMemory<byte> Protobuf => _protobuf;

    /// <summary>The Peer ID of this key.</summary>
    public PeerId PeerId { get; }

    /// <summary>A secp256k1 key from its 33-byte compressed point.</summary>
    public static PublicKey FromSecp256k1(ReadOnlySpan<byte> compressedPoint)
    {
        if (compressedPoint.Length != Secp256k1Length)
        {
            throw new IdentityFormatException($"a secp256k1 public key is a {Secp256k1Length}-byte compressed point, not {compressedPoint.Length} bytes");
        }
        if (!ECPubKey.TryCreate(compressedPoint, Context.Instance, out bool compressed, out ECPubKey? point) || !compressed)
        {
            throw new IdentityFormatException("the secp256k1 public key is not a point on the curve");
        }
        return new PublicKey(KeyType.Secp256k1, compressedPoint.ToArray(), point);
    }

    /// <summary>An Ed25519 key from its 32 bytes.</summary>
    public static PublicKey FromEd25519(ReadOnlySpan<byte> key)
    {
        if (key.Length != Ed25519Length)
        {
            throw new IdentityFormatException($"an Ed25519 public key is {Ed25519Length} bytes, not {key.Length}");
        }
        if (!Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.ValidatePublicKeyPartial(key))
        {
            throw new IdentityFormatException("the Ed25519 public key is not a point on the curve");
        }
        return new PublicKey(KeyType.Ed25519, key.ToArray(), null);
    }

    /// <summary>Parses a libp2p public-key protobuf; throws <see cref="IdentityFormatException"/> with the reason.</summary>
    public static PublicKey FromProtobuf(ReadOnlySpan<byte> protobuf)
    {
        ulong? type = null;
        ReadOnlySpan<byte> data = default;
        bool hasData = false;
        ReadOnlySpan<byte> rest = protobuf;
        while (!rest.IsEmpty)
        {
            if (!UVarint.TryRead(rest, out ulong tag, out int n))
            {
                throw Malformed("a malformed field tag");
            }
            rest = rest[n..];
            switch (tag)
            {
                case (1 << 3) | 0: // Type, varint
                    if (type is not null)
                    {
                        throw Malformed("Type appears twice");
                    }
                    if (!UVarint.TryRead(rest, out ulong t, out n))
                    {
                        throw Malformed("a malformed Type");
                    }
                    type = t;
                    rest = rest[n..];
                    break;
                case (2 << 3) | 2: // Data, length-delimited
                    if (hasData)
                    {
                        throw Malformed("Data appears twice");
                    }
                    if (!UVarint.TryRead(rest, out ulong length, out n) || length > (ulong)(rest.Length - n))
                    {
                        throw Malformed("Data is truncated");
                    }
                    data = rest.Slice(n, (int)length);
                    hasData = true;
                    rest = rest[(n + (int)length)..];
                    break;
                default:
                    throw Malformed($"unexpected field {tag >> 3} (wire type {tag & 7})");
            }
        }
        if (type is null)
        {
            throw Malformed("the Type field is missing");
        }
        if (!hasData)
        {
            throw Malformed("the Data field is missing");
        }
        PublicKey key = type switch
        {
            (ulong)KeyType.Secp256k1 => FromSecp256k1(data),
            (ulong)KeyType.Ed25519 => FromEd25519(data),
            (ulong)KeyType.Rsa => throw new IdentityFormatException("RSA public keys are not supported (only secp256k1 and Ed25519)"),
            (ulong)KeyType.Ecdsa => throw new IdentityFormatException("ECDSA (P-256) public keys are not supported (only secp256k1 and Ed25519)"),
            _ => throw new IdentityFormatException($"unknown public key type {type}"),
        };
        // The Peer ID hashes these very bytes, so only the one deterministic encoding (Type, then Data) is accepted.
        if (!protobuf.SequenceEqual(key._protobuf))
        {
            throw Malformed("not in the deterministic encoding (Type then Data, minimal varints)");
        }
        return key;
    }

    /// <summary>
    /// Checks <paramref name="signature"/> over the signing envelope of <paramref name="domain"/>,
    /// <paramref name="payloadType"/> and <paramref name="payload"/>. secp256k1: 64-byte compact <c>r || s</c> over
    /// SHA-256(envelope), high <c>s</c> rejected. Ed25519: 64-byte signature over the envelope bytes.
    /// </summary>
    public bool Verify(string domain, string payloadType, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature) =>
        VerifyEnvelope(SigningEnvelope.Build(domain, payloadType, payload), signature);

    /// <summary>Checks a signature over already built envelope bytes.</summary>
    internal bool VerifyEnvelope(ReadOnlySpan<byte> envelope, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureLength)
        {
            return false;
        }
        if (Type == KeyType.Ed25519)
        {
            return Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.Verify(signature, _data, envelope);
        }
        if (!SecpECDSASignature.TryCreateFromCompact(signature, out SecpECDSASignature? sig)
            || sig is null
            || sig.r.IsZero || sig.s.IsZero
            // identity.md: verification rejects high-s, so a signature has exactly one accepted form.
            || sig.s.IsHigh)
        {
            return false;
        }
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(envelope, digest);
        return _secp256k1!.SigVerify(sig, digest);
    }

    /// <summary>
    /// Checks a signature made as libp2p's key spec says (the Noise handshake payload, signed peer records): for
    /// secp256k1, DER-encoded ECDSA over SHA-256(data), strict DER and low <c>s</c> only (as js-libp2p's noble does);
    /// for Ed25519, the 64-byte signature over the data itself.
    /// </summary>
    public bool VerifyLibp2p(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (Type == KeyType.Ed25519)
        {
            return signature.Length == SignatureLength && Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.Verify(signature, _data, data);
        }
        // A DER ECDSA signature over secp256k1 is at most 72 bytes (two 33-byte integers and four header bytes).
        if (signature.Length is < 8 or > 72
            || !SecpECDSASignature.TryCreateFromDer(signature, out SecpECDSASignature? sig)
            || sig is null
            || sig.r.IsZero || sig.s.IsZero || sig.s.IsHigh)
        {
            return false;
        }
        // Only the one canonical encoding: re-encoding must give the same bytes (no padding, no trailing data).
        Span<byte> canonical = stackalloc byte[72];
        sig.WriteDerToSpan(canonical, out int length);
        if (!canonical[..length].SequenceEqual(signature))
        {
            return false;
        }
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(data, digest);
        return _secp256k1!.SigVerify(sig, digest);
    }

    /// <summary>The 64-byte uncompressed secp256k1 point without its 04 prefix (for the EVM address).</summary>
    internal byte[] UncompressedXY()
    {
        if (_secp256k1 is null)
        {
            throw new InvalidOperationException($"an EVM address needs a secp256k1 key, not {Type}");
        }
        return _secp256k1.ToBytes(compressed: false)[1..];
    }

    public bool Equals(PublicKey? other) => other is not null && _protobuf.AsSpan().SequenceEqual(other._protobuf);

    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    public override int GetHashCode() => PeerId.GetHashCode();

    public override string ToString() => $"{Type} {PeerId}";

    private static byte[] Encode(KeyType type, byte[] data)
    {
        var protobuf = new byte[3 + UVarint.Size((ulong)data.Length) + data.Length];
        protobuf[0] = (1 << 3) | 0;
        protobuf[1] = (byte)type;
        protobuf[2] = (2 << 3) | 2;
        int n = 3 + UVarint.Write((ulong)data.Length, protobuf.AsSpan(3));
        data.CopyTo(protobuf, n);
        return protobuf;
    }

    private static IdentityFormatException Malformed(string reason) => new($"not a libp2p public key protobuf: {reason}");
}
