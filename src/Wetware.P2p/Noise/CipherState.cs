using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Wetware.P2p.Noise;

/// <summary>
/// A Noise CipherState (Noise spec section 5.1) for ChaChaPoly: a 32-byte key and a 64-bit counter nonce, encoded
/// as 32 zero bits then the counter little-endian (section 12.3). Without a key it passes data through, as the
/// first handshake message needs.
/// </summary>
internal sealed class CipherState : IDisposable
{
    public const int TagLength = 16;

    private ChaCha20Poly1305? _aead;
    private ulong _nonce;

    public bool HasKey => _aead is not null;

    public void InitializeKey(ReadOnlySpan<byte> key)
    {
        _aead?.Dispose();
        _aead = new ChaCha20Poly1305(key[..32]);
        _nonce = 0;
    }

    /// <summary>Writes <c>plaintext.Length + 16</c> bytes to <paramref name="destination"/> (the same length without a key).</summary>
    public int Encrypt(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (_aead is null)
        {
            plaintext.CopyTo(destination);
            return plaintext.Length;
        }
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        _aead.Encrypt(nonce, plaintext, destination[..plaintext.Length], destination.Slice(plaintext.Length, TagLength), ad);
        return plaintext.Length + TagLength;
    }

    /// <summary>Decrypts <paramref name="ciphertext"/> (tag last) into <paramref name="destination"/>; false when it fails authentication.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        if (_aead is null)
        {
            ciphertext.CopyTo(destination);
            return true;
        }
        if (ciphertext.Length < TagLength)
        {
            return false;
        }
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        int length = ciphertext.Length - TagLength;
        try
        {
            _aead.Decrypt(nonce, ciphertext[..length], ciphertext[length..], destination[..length], ad);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// Decrypts <paramref name="ciphertext"/> with its <paramref name="tag"/> into <paramref name="destination"/>,
    /// which may be the ciphertext itself (in place); false when it fails authentication. Needs a key.
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_aead is null, this);
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        try
        {
            _aead.Decrypt(nonce, ciphertext, tag, destination[..ciphertext.Length], ad);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _aead?.Dispose();
        _aead = null;
    }

    private void NextNonce(Span<byte> nonce)
    {
        // Section 5.1: 2^64-1 is reserved; a connection never gets near it (that many frames), but the rule is cheap.
        if (_nonce == ulong.MaxValue)
        {
            throw P2pException.Protocol("noise: the nonce is exhausted");
        }
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _nonce++);
    }
}
