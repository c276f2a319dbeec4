using System.Security.Cryptography;
using System.Text;

namespace Wetware.P2p.Noise;

/// <summary>
/// The Noise SymmetricState (Noise spec section 5.2) for SHA-256: chaining key, handshake hash and the
/// CipherState they key. HKDF is the spec's two-output HMAC-SHA256 construction (section 4.3).
/// </summary>
internal sealed class SymmetricState : IDisposable
{
    public const int HashLength = 32;

    private readonly byte[] _ck = new byte[HashLength];
    private readonly byte[] _h = new byte[HashLength];

    public SymmetricState(string protocolName)
    {
        byte[] name = Encoding.ASCII.GetBytes(protocolName);
        // Section 5.2 InitializeSymmetric: a name of at most HASHLEN bytes is zero-padded, a longer one hashed.
        if (name.Length <= HashLength)
        {
            name.CopyTo(_h, 0);
        }
        else
        {
            SHA256.HashData(name, _h);
        }
        _h.CopyTo(_ck, 0);
    }

    public CipherState Cipher { get; } = new();

    public ReadOnlySpan<byte> HandshakeHash => _h;

    public void MixHash(ReadOnlySpan<byte> data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(_h);
        hash.AppendData(data);
        hash.GetHashAndReset(_h);
    }

    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> tempKey = stackalloc byte[HashLength];
        Hkdf(_ck, inputKeyMaterial, _ck, tempKey);
        Cipher.InitializeKey(tempKey);
        CryptographicOperations.ZeroMemory(tempKey);
    }

    /// <summary>Encrypts (once keyed) and mixes the ciphertext into the hash; returns the bytes written.</summary>
    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        int n = Cipher.Encrypt(_h, plaintext, destination);
        MixHash(destination[..n]);
        return n;
    }

    /// <summary>Decrypts (once keyed) and mixes the ciphertext into the hash; false when it fails authentication.</summary>
    public bool TryDecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        // The hash must take the ciphertext as received, before MixHash moves h on.
        Span<byte> h = stackalloc byte[HashLength];
        _h.CopyTo(h);
        if (!Cipher.TryDecrypt(h, ciphertext, destination))
        {
            return false;
        }
        MixHash(ciphertext);
        return true;
    }

    /// <summary>Section 5.2 Split: the two transport CipherStates (initiator-to-responder first).</summary>
    public (CipherState First, CipherState Second) Split()
    {
        Span<byte> k1 = stackalloc byte[HashLength];
        Span<byte> k2 = stackalloc byte[HashLength];
        Hkdf(_ck, [], k1, k2);
        var first = new CipherState();
        var second = new CipherState();
        first.InitializeKey(k1);
        second.InitializeKey(k2);
        CryptographicOperations.ZeroMemory(k1);
        CryptographicOperations.ZeroMemory(k2);
        return (first, second);
    }

    public void Dispose()
    {
        Cipher.Dispose();
        CryptographicOperations.ZeroMemory(_ck);
    }

    private static void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output1, Span<byte> output2)
    {
        Span<byte> tempKey = stackalloc byte[HashLength];
        Span<byte> block = stackalloc byte[HashLength + 1];
        HMACSHA256.HashData(chainingKey, inputKeyMaterial, tempKey);
        block[0] = 1;
        HMACSHA256.HashData(tempKey, block[..1], output1);
        output1.CopyTo(block);
        block[HashLength] = 2;
        HMACSHA256.HashData(tempKey, block, output2);
        CryptographicOperations.ZeroMemory(tempKey);
        CryptographicOperations.ZeroMemory(block);
    }
}
