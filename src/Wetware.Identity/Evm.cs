using Org.BouncyCastle.Crypto.Digests;

namespace Wetware.Identity;

/// <summary>
/// EVM addresses (identity.md, "Keys"): the last 20 bytes of keccak-256 of the 64-byte uncompressed secp256k1 point
/// (without its 04 prefix), shown with the EIP-55 mixed-case checksum.
/// </summary>
public static class Evm
{
    /// <summary>The EIP-55 address of a secp256k1 public key.</summary>
    public static string Address(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Type != KeyType.Secp256k1)
        {
            throw new ArgumentException($"an EVM address needs a secp256k1 key, not {key.Type}", nameof(key));
        }
        byte[] hash = Keccak256(key.UncompressedXY());
        return ChecksumAddress(hash.AsSpan(12));
    }

    /// <summary>The EIP-55 text (<c>0x</c> and 40 hex digits, letters upper-cased by the checksum) of a 20-byte address.</summary>
    public static string ChecksumAddress(ReadOnlySpan<byte> address)
    {
        if (address.Length != 20)
        {
            throw new ArgumentException($"an EVM address is 20 bytes, not {address.Length}", nameof(address));
        }
        string lower = Convert.ToHexStringLower(address);
        // EIP-55: a letter is upper-cased when the matching nibble of keccak-256(lowercase hex ASCII) is 8 or more.
        byte[] hash = Keccak256(System.Text.Encoding.ASCII.GetBytes(lower));
        return string.Create(42, (lower, hash), static (chars, state) =>
        {
            chars[0] = '0';
            chars[1] = 'x';
            for (int i = 0; i < 40; i++)
            {
                int nibble = (i & 1) == 0 ? state.hash[i / 2] >> 4 : state.hash[i / 2] & 0x0f;
                char c = state.lower[i];
                chars[2 + i] = nibble >= 8 ? char.ToUpperInvariant(c) : c;
            }
        });
    }

    private static byte[] Keccak256(ReadOnlySpan<byte> data)
    {
        // Keccak-256 as Ethereum uses it (the original padding, not NIST SHA3-256).
        var digest = new KeccakDigest(256);
        digest.BlockUpdate(data);
        var hash = new byte[32];
        digest.DoFinal(hash, 0);
        return hash;
    }
}
