using System.Diagnostics.CodeAnalysis;
using System.Text;
using SimpleBase;

namespace Wetware.Identity;

/// <summary>
/// The key file's text (identity.md, "Keys"): the 32-byte secret in base58btc on one line, or 64 hex digits with
/// an optional 0x; surrounding whitespace ignored. Reasons name what is wrong and never quote the content.
/// </summary>
internal static class KeyFile
{
    /// <summary>Far more than a key file ever holds; anything bigger is not one (and is not read whole).</summary>
    public const int MaxBytes = 4096;

    private const int SecretLength = 32;
    private const int HexLength = 2 * SecretLength;

    /// <summary>The longest base58btc text of 32 bytes.</summary>
    private const int MaxBase58Length = 44;

    private const string Base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    /// <summary>Decodes the file's content into <paramref name="secret"/> (32 bytes), or says why not.</summary>
    public static bool TryParse(ReadOnlySpan<byte> content, Span<byte> secret, [NotNullWhen(false)] out string? reason)
    {
        if (content.Length > MaxBytes)
        {
            reason = $"is {content.Length} bytes, too large to be a key file";
            return false;
        }
        // A key file is ASCII; checking the bytes first keeps the decoder from ever guessing at the content.
        foreach (byte b in content)
        {
            if (b >= 0x80)
            {
                reason = "contains non-ASCII bytes (expected base58btc or hex text)";
                return false;
            }
        }
        ReadOnlySpan<char> text = Encoding.ASCII.GetString(content).AsSpan().Trim();
        if (text.IsEmpty)
        {
            reason = "is empty";
            return false;
        }
        int space = text.IndexOfAny(" \t\r\n\f\v");
        if (space >= 0)
        {
            reason = text[space..].ContainsAny("\r\n")
                ? "has more than one line (expected the secret alone on one line)"
                : $"has whitespace inside the key (at character {space + 1})";
            return false;
        }
        if (text.StartsWith("0x") || text.StartsWith("0X"))
        {
            return TryParseHex(text[2..], "after 0x ", secret, out reason);
        }
        // 32 bytes are at most 44 base58 digits, so longer all-hex text can only be meant as hex.
        if (text.Length > MaxBase58Length && !text.ContainsAnyExcept("0123456789abcdefABCDEF"))
        {
            return TryParseHex(text, string.Empty, secret, out reason);
        }
        if (text.Length == HexLength)
        {
            int bad = text.IndexOfAnyExcept("0123456789abcdefABCDEF");
            reason = $"is 64 characters, as hex would be, but character {bad + 1} is not a hex digit";
            return false;
        }
        int notBase58 = text.IndexOfAnyExcept(Base58Alphabet);
        if (notBase58 >= 0)
        {
            reason = $"is neither base58btc nor hex: character {notBase58 + 1} is not in the base58btc (Bitcoin) alphabet";
            return false;
        }
        byte[] decoded = Base58.Bitcoin.Decode(text);
        try
        {
            if (decoded.Length != SecretLength)
            {
                reason = $"decodes from base58btc to {decoded.Length} bytes, expected {SecretLength}";
                return false;
            }
            decoded.CopyTo(secret);
            reason = null;
            return true;
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(decoded);
        }
    }

    private static bool TryParseHex(ReadOnlySpan<char> hex, string where, Span<byte> secret, [NotNullWhen(false)] out string? reason)
    {
        int bad = hex.IndexOfAnyExcept("0123456789abcdefABCDEF");
        if (bad >= 0)
        {
            reason = $"has a character that is not a hex digit {where}(character {bad + 1})";
            return false;
        }
        if (hex.Length != HexLength)
        {
            reason = $"has {hex.Length} hex digits {where}where a secret is {HexLength}";
            return false;
        }
        Convert.FromHexString(hex, secret, out _, out _);
        reason = null;
        return true;
    }
}
