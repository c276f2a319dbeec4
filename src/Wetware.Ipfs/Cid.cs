using System.Diagnostics.CodeAnalysis;
using SimpleBase;

namespace Wetware.Ipfs;

/// <summary>
/// A content identifier (multiformats CID): CIDv0 (a bare sha2-256 multihash, dag-pb, printed in base58btc as
/// <c>Qm...</c>) or CIDv1 (<c>&lt;version&gt;&lt;codec&gt;&lt;multihash&gt;</c>, printed with a multibase prefix).
/// Parses base58btc (<c>z</c>), base32 (<c>b</c>/<c>B</c>) and base16 (<c>f</c>/<c>F</c>); prints CIDv1 in base32,
/// as Kubo does. js-ipfs prints CIDv1 in base58btc (<c>zb2r...</c>, <c>zdj7...</c>): the same CID, another spelling,
/// so CIDs are compared as values, never as strings.
/// </summary>
public sealed class Cid : IEquatable<Cid>
{
    /// <summary>The dag-pb codec (UnixFS files and directories).</summary>
    public const ulong DagPb = 0x70;

    /// <summary>The raw codec (a block of plain bytes, e.g. a raw leaf).</summary>
    public const ulong Raw = 0x55;

    /// <summary>The dag-cbor codec.</summary>
    public const ulong DagCbor = 0x71;

    private const ulong Sha2_256 = 0x12;

    private readonly byte[] _bytes;

    private Cid(int version, ulong codec, byte[] multihash, byte[] bytes)
    {
        Version = version;
        Codec = codec;
        Multihash = multihash;
        _bytes = bytes;
    }

    /// <summary>0 or 1.</summary>
    public int Version { get; }

    /// <summary>The multicodec of the content (<see cref="DagPb"/> for every CIDv0).</summary>
    public ulong Codec { get; }

    /// <summary>The multihash: hash function code, digest length, digest.</summary>
    public ReadOnlyMemory<byte> Multihash { get; }

    /// <summary>The binary CID (for CIDv0 the bare multihash), as stored in Cap'n Proto <c>Data</c> fields.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    public byte[] ToArray() => (byte[])_bytes.Clone();

    /// <summary>A CIDv1 with the given codec over a multihash.</summary>
    public static Cid V1(ulong codec, ReadOnlySpan<byte> multihash)
    {
        if (!TryCheckMultihash(multihash, out string? reason))
        {
            throw new FormatException($"not a valid multihash: {reason}");
        }
        Span<byte> header = stackalloc byte[20];
        int n = WriteUVarint(header, 1);
        n += WriteUVarint(header[n..], codec);
        byte[] bytes = [.. header[..n], .. multihash];
        return new Cid(1, codec, multihash.ToArray(), bytes);
    }

    /// <summary>This CID as CIDv1 (the same content; a CIDv0 becomes dag-pb CIDv1).</summary>
    public Cid ToV1() => Version == 1 ? this : V1(Codec, Multihash.Span);

    /// <summary>Reads a binary CID (CIDv0: a 34-byte sha2-256 multihash; CIDv1: version, codec, multihash).</summary>
    public static Cid FromBytes(ReadOnlySpan<byte> bytes) =>
        TryFromBytes(bytes, out Cid? cid, out string? reason) ? cid : throw new FormatException($"not a valid binary CID: {reason}");

    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out Cid? cid, [NotNullWhen(false)] out string? reason)
    {
        cid = null;
        // CIDv0 is exactly a sha2-256 multihash (0x12 0x20 + 32 bytes); a CIDv1 starts with the varint 1.
        if (bytes.Length == 34 && bytes[0] == Sha2_256 && bytes[1] == 32)
        {
            byte[] copy = bytes.ToArray();
            cid = new Cid(0, DagPb, copy, copy);
            reason = null;
            return true;
        }
        if (!TryReadUVarint(bytes, out ulong version, out int n) || version != 1)
        {
            reason = "neither a CIDv0 multihash nor a CIDv1";
            return false;
        }
        if (!TryReadUVarint(bytes[n..], out ulong codec, out int m))
        {
            reason = "a truncated codec";
            return false;
        }
        ReadOnlySpan<byte> multihash = bytes[(n + m)..];
        if (!TryCheckMultihash(multihash, out reason))
        {
            return false;
        }
        cid = new Cid(1, codec, multihash.ToArray(), bytes.ToArray());
        return true;
    }

    /// <summary>Parses a CID in text; an <c>/ipfs/</c> prefix is not part of a CID.</summary>
    public static Cid Parse(string text) =>
        TryParse(text, out Cid? cid, out string? reason) ? cid : throw new FormatException($"'{text}' is not a valid CID: {reason}");

    public static bool TryParse(string? text, [NotNullWhen(true)] out Cid? cid) => TryParse(text, out cid, out _);

    public static bool TryParse(string? text, [NotNullWhen(true)] out Cid? cid, [NotNullWhen(false)] out string? reason)
    {
        cid = null;
        if (string.IsNullOrEmpty(text))
        {
            reason = "empty";
            return false;
        }
        if (text.Length == 46 && text.StartsWith("Qm", StringComparison.Ordinal))
        {
            if (!TryDecode(() => Base58.Bitcoin.Decode(text), "base58btc", out byte[] multihash, out reason))
            {
                return false;
            }
            if (multihash.Length != 34 || multihash[0] != Sha2_256 || multihash[1] != 32)
            {
                reason = "a CIDv0 must be a sha2-256 multihash";
                return false;
            }
            cid = new Cid(0, DagPb, multihash, multihash);
            return true;
        }
        byte[] bytes;
        string body = text[1..];
        switch (text[0])
        {
            case 'z':
                if (!TryDecode(() => Base58.Bitcoin.Decode(body), "base58btc", out bytes, out reason))
                {
                    return false;
                }
                break;
            case 'b' or 'B':
                if (!TryDecode(() => Base32.Rfc4648.Decode(body.ToUpperInvariant()), "base32", out bytes, out reason))
                {
                    return false;
                }
                break;
            case 'f' or 'F':
                if (!TryDecode(() => Convert.FromHexString(body), "base16", out bytes, out reason))
                {
                    return false;
                }
                break;
            default:
                reason = $"unknown multibase prefix '{text[0]}'";
                return false;
        }
        if (bytes.Length == 0 || bytes[0] != 1)
        {
            reason = "a multibase CID must be CIDv1";
            return false;
        }
        return TryFromBytes(bytes, out cid, out reason);
    }

    /// <summary>CIDv0 in base58btc (<c>Qm...</c>); CIDv1 in base32 (<c>bafy...</c>, <c>bafk...</c>).</summary>
    public override string ToString() =>
        Version == 0 ? Base58.Bitcoin.Encode(_bytes) : "b" + Base32.Rfc4648.Encode(_bytes, padding: false).ToLowerInvariant();

    /// <summary>CIDv1 in base58btc, the way js-ipfs prints it.</summary>
    public string ToBase58String() => Version == 0 ? ToString() : "z" + Base58.Bitcoin.Encode(_bytes);

    public bool Equals(Cid? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => obj is Cid other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes);
        return hash.ToHashCode();
    }

    public static bool operator ==(Cid? a, Cid? b) => a is null ? b is null : a.Equals(b);

    public static bool operator !=(Cid? a, Cid? b) => !(a == b);

    private static bool TryDecode(Func<byte[]> decode, string codec, out byte[] bytes, [NotNullWhen(false)] out string? reason)
    {
        try
        {
            bytes = decode();
            reason = null;
            return true;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            bytes = [];
            reason = $"not valid {codec}";
            return false;
        }
    }

    private static bool TryCheckMultihash(ReadOnlySpan<byte> multihash, [NotNullWhen(false)] out string? reason)
    {
        if (!TryReadUVarint(multihash, out _, out int n) || !TryReadUVarint(multihash[n..], out ulong length, out int m))
        {
            reason = "a truncated multihash header";
            return false;
        }
        if ((ulong)(multihash.Length - n - m) != length)
        {
            reason = $"a multihash digest of {multihash.Length - n - m} bytes where its header says {length}";
            return false;
        }
        reason = null;
        return true;
    }

    private static bool TryReadUVarint(ReadOnlySpan<byte> span, out ulong value, out int length)
    {
        value = 0;
        for (int i = 0; i < span.Length && i < 9; i++)
        {
            value |= (ulong)(span[i] & 0x7f) << (7 * i);
            if ((span[i] & 0x80) == 0)
            {
                length = i + 1;
                return true;
            }
        }
        length = 0;
        return false;
    }

    private static int WriteUVarint(Span<byte> span, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        return i;
    }
}
