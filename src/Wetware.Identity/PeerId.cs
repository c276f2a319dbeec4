using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using SimpleBase;

namespace Wetware.Identity;

/// <summary>
/// A libp2p Peer ID: a multihash of the peer's public-key protobuf (libp2p peer-ids spec). Keys whose protobuf is at
/// most 42 bytes (secp256k1, Ed25519) are inlined with the identity multihash; longer ones are hashed with sha2-256.
/// <see cref="ToString"/> gives the legacy base58btc text (<c>16Uiu2...</c> for secp256k1, <c>12D3KooW...</c> for
/// Ed25519); <see cref="Parse"/> also takes the CIDv1 form (<c>libp2p-key</c> codec).
/// </summary>
public readonly struct PeerId : IEquatable<PeerId>
{
    /// <summary>The longest public-key protobuf inlined with the identity multihash (peer-ids spec).</summary>
    public const int MaxInlineKeyLength = 42;

    private const ulong IdentityCode = 0x00;
    private const ulong Sha256Code = 0x12;
    private const ulong CidVersion1 = 0x01;
    private const ulong Libp2pKeyCodec = 0x72;

    private readonly byte[]? _bytes;

    private PeerId(byte[] bytes) => _bytes = bytes;

    /// <summary>The binary Peer ID: the multihash bytes (what <c>Host.id</c> returns and what a graft audience is).</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>True for <c>default(PeerId)</c>, which names no peer.</summary>
    public bool IsEmpty => _bytes is null;

    /// <summary>The Peer ID of a libp2p public-key protobuf.</summary>
    public static PeerId FromPublicKey(ReadOnlySpan<byte> publicKeyProtobuf)
    {
        if (publicKeyProtobuf.IsEmpty)
        {
            throw new IdentityFormatException("a public key protobuf cannot be empty");
        }
        if (publicKeyProtobuf.Length <= MaxInlineKeyLength)
        {
            return new PeerId(Multihash(IdentityCode, publicKeyProtobuf));
        }
        return new PeerId(Multihash(Sha256Code, SHA256.HashData(publicKeyProtobuf)));
    }

    /// <summary>A Peer ID from its binary form: an identity multihash (at most 42 bytes) or a sha2-256 multihash.</summary>
    public static PeerId FromBytes(ReadOnlySpan<byte> multihash)
    {
        if (!TryCheckMultihash(multihash, out string? reason))
        {
            throw new IdentityFormatException($"not a binary Peer ID: {reason}");
        }
        return new PeerId(multihash.ToArray());
    }

    /// <summary>Parses the base58btc form (<c>16Uiu2...</c>, <c>12D3KooW...</c>, <c>Qm...</c>) or a CIDv1 with the libp2p-key codec.</summary>
    public static PeerId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text, out PeerId id, out string? reason))
        {
            string shown = text.Length > 80 ? text[..80] + "..." : text;
            throw new IdentityFormatException($"not a Peer ID: '{shown}': {reason}");
        }
        return id;
    }

    public static bool TryParse([NotNullWhen(true)] string? text, out PeerId id) => TryParse(text, out id, out _);

    /// <summary>
    /// For an identity-multihash Peer ID (secp256k1, Ed25519), the public key it carries; false for a hashed
    /// Peer ID or a key type this library does not handle.
    /// </summary>
    public bool TryGetPublicKey([NotNullWhen(true)] out PublicKey? key)
    {
        key = null;
        if (_bytes is null || _bytes[0] != IdentityCode)
        {
            return false;
        }
        UVarint.TryRead(_bytes.AsSpan(1), out _, out int n);
        try
        {
            key = PublicKey.FromProtobuf(_bytes.AsSpan(1 + n));
            return true;
        }
        catch (IdentityFormatException)
        {
            return false;
        }
    }

    /// <summary>The CIDv1 form: multibase base32 (<c>b...</c>) of version 1, codec libp2p-key, the multihash.</summary>
    public string ToCidString()
    {
        byte[] bytes = _bytes ?? throw new InvalidOperationException("default(PeerId) names no peer");
        var cid = new byte[2 + bytes.Length];
        cid[0] = (byte)CidVersion1;
        cid[1] = (byte)Libp2pKeyCodec;
        bytes.CopyTo(cid, 2);
        return "b" + Base32.Rfc4648.Encode(cid, padding: false).ToLowerInvariant();
    }

    /// <summary>The legacy base58btc text of the multihash.</summary>
    public override string ToString() => _bytes is null ? string.Empty : Base58.Bitcoin.Encode(_bytes);

    public bool Equals(PeerId other) => Bytes.Span.SequenceEqual(other.Bytes.Span) && IsEmpty == other.IsEmpty;

    public override bool Equals(object? obj) => obj is PeerId other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Bytes.Span);
        return hash.ToHashCode();
    }

    public static bool operator ==(PeerId left, PeerId right) => left.Equals(right);

    public static bool operator !=(PeerId left, PeerId right) => !left.Equals(right);

    private static bool TryParse(string? text, out PeerId id, [NotNullWhen(false)] out string? reason)
    {
        id = default;
        if (string.IsNullOrEmpty(text))
        {
            reason = "empty";
            return false;
        }
        byte[] bytes;
        // peer-ids spec: a string starting with "1" or "Qm" is a bare base58btc multihash; anything else is a
        // multibase-encoded CID.
        if (text.StartsWith('1') || text.StartsWith("Qm", StringComparison.Ordinal))
        {
            if (!TryDecode(Base58.Bitcoin, text, out bytes, out reason))
            {
                return false;
            }
        }
        else if (!TryDecodeCid(text, out bytes, out reason))
        {
            return false;
        }
        if (!TryCheckMultihash(bytes, out reason))
        {
            return false;
        }
        id = new PeerId(bytes);
        return true;
    }

    private static bool TryDecodeCid(string text, out byte[] multihash, [NotNullWhen(false)] out string? reason)
    {
        multihash = [];
        byte[] cid;
        switch (text[0])
        {
            case 'b':
            case 'B':
                if (!TryDecode(Base32.Rfc4648, text[1..], out cid, out reason))
                {
                    return false;
                }
                break;
            case 'z':
                if (!TryDecode(Base58.Bitcoin, text[1..], out cid, out reason))
                {
                    return false;
                }
                break;
            default:
                reason = "neither base58btc (starting with 1 or Qm) nor a CID in base32 (b...) or base58btc (z...)";
                return false;
        }
        if (!UVarint.TryRead(cid, out ulong version, out int n) || version != CidVersion1)
        {
            reason = "a CID that is not CIDv1";
            return false;
        }
        if (!UVarint.TryRead(cid.AsSpan(n), out ulong codec, out int m) || codec != Libp2pKeyCodec)
        {
            reason = "a CID whose codec is not libp2p-key (0x72)";
            return false;
        }
        multihash = cid[(n + m)..];
        reason = null;
        return true;
    }

    private static bool TryDecode(Base58 codec, string text, out byte[] bytes, [NotNullWhen(false)] out string? reason)
    {
        try
        {
            bytes = codec.Decode(text);
            reason = null;
            return true;
        }
        catch (ArgumentException)
        {
            bytes = [];
            reason = "not valid base58btc";
            return false;
        }
    }

    private static bool TryDecode(Base32 codec, string text, out byte[] bytes, [NotNullWhen(false)] out string? reason)
    {
        try
        {
            bytes = codec.Decode(text);
            reason = null;
            return true;
        }
        catch (ArgumentException)
        {
            bytes = [];
            reason = "not valid base32";
            return false;
        }
    }

    private static bool TryCheckMultihash(ReadOnlySpan<byte> multihash, [NotNullWhen(false)] out string? reason)
    {
        if (!UVarint.TryRead(multihash, out ulong code, out int n) || !UVarint.TryRead(multihash[n..], out ulong length, out int m))
        {
            reason = "a truncated or malformed multihash header";
            return false;
        }
        ulong digestLength = (ulong)(multihash.Length - n - m);
        if (length != digestLength)
        {
            reason = $"the multihash says {length} digest bytes but {digestLength} follow";
            return false;
        }
        switch (code)
        {
            case IdentityCode when length is 0 or > MaxInlineKeyLength:
                reason = $"an identity multihash of {length} bytes (1 to {MaxInlineKeyLength} expected)";
                return false;
            case IdentityCode:
                break;
            case Sha256Code when length != 32:
                reason = $"a sha2-256 multihash of {length} bytes";
                return false;
            case Sha256Code:
                break;
            default:
                reason = $"multihash code 0x{code:x} (a Peer ID uses identity 0x00 or sha2-256 0x12)";
                return false;
        }
        reason = null;
        return true;
    }

    private static byte[] Multihash(ulong code, ReadOnlySpan<byte> digest)
    {
        var bytes = new byte[UVarint.Size(code) + UVarint.Size((ulong)digest.Length) + digest.Length];
        int n = UVarint.Write(code, bytes);
        n += UVarint.Write((ulong)digest.Length, bytes.AsSpan(n));
        digest.CopyTo(bytes.AsSpan(n));
        return bytes;
    }
}
