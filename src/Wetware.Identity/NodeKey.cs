using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using NBitcoin.Secp256k1;
using SHA256 = System.Security.Cryptography.SHA256;
using SimpleBase;

namespace Wetware.Identity;

/// <summary>
/// The node's identity (identity.md): one secp256k1 secret that gives the Peer ID and the EVM address and makes
/// every signature the host signs. The secret never leaves this object except through
/// <see cref="ExportSecretBase58"/>, <see cref="WriteSecret"/> and <see cref="Save"/>; <see cref="ToString"/> shows the
/// Peer ID only.
/// Dispose to clear the secret; the public parts stay usable.
/// </summary>
public sealed class NodeKey : IDisposable
{
    private const int SecretLength = 32;
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly ECPrivKey _key;
    private string? _evmAddress;

    private NodeKey(ECPrivKey key)
    {
        _key = key;
        PublicKey = PublicKey.FromSecp256k1(key.CreatePubKey().ToBytes(compressed: true));
    }

    /// <summary>The public key: <see cref="PublicKey.Data"/> is the 33-byte compressed point,
    /// <see cref="PublicKey.Protobuf"/> the libp2p public-key protobuf.</summary>
    public PublicKey PublicKey { get; }

    /// <summary>The Peer ID (<c>16Uiu2...</c>).</summary>
    public PeerId PeerId => PublicKey.PeerId;

    /// <summary>The EIP-55 EVM address (<c>0x...</c>).</summary>
    public string EvmAddress => _evmAddress ??= Evm.Address(PublicKey);

    /// <summary>A new key from the operating system's random number generator.</summary>
    public static NodeKey Generate()
    {
        Span<byte> secret = stackalloc byte[SecretLength];
        try
        {
            while (true)
            {
                RandomNumberGenerator.Fill(secret);
                // Zero or not below the order: probability about 2^-128; draw again.
                if (Context.Instance.TryCreateECPrivKey(secret, out ECPrivKey? key))
                {
                    return new NodeKey(key);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>A key from its 32-byte secret; zero or a value not below the curve order is refused.</summary>
    public static NodeKey FromSecret(ReadOnlySpan<byte> secret)
    {
        if (!TryCreate(secret, out NodeKey? key, out string? reason))
        {
            throw new ArgumentException(reason, nameof(secret));
        }
        return key;
    }

    /// <summary>
    /// Reads a key file (identity.md, "Keys"). Errors are <see cref="KeyFileException"/>s naming the file and what is
    /// wrong, never the secret. A file readable by group or others is loaded with a warning on <paramref name="logger"/>.
    /// </summary>
    public static NodeKey Load(string path, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] content = Read(path);
        Span<byte> secret = stackalloc byte[SecretLength];
        try
        {
            if (!KeyFile.TryParse(content, secret, out string? reason) || !TryCreate(secret, out NodeKey? key, out reason))
            {
                throw new KeyFileException(path, reason);
            }
            WarnIfShared(path, logger);
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>
    /// Writes the secret in base58btc, one line, to a new file with mode 0600. An existing file is replaced only with
    /// <paramref name="force"/> (atomically: the new file is written beside it and renamed over it).
    /// </summary>
    public void Save(string path, bool force = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new KeyFileException(path, "is a directory");
        }
        if (!force && File.Exists(full))
        {
            throw new KeyFileException(path, "already exists (not overwritten without force)");
        }
        string directory = Path.GetDirectoryName(full)!;
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }
        byte[] line = Encoding.ASCII.GetBytes(ExportSecretBase58() + "\n");
        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(line);
                stream.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows())
            {
                // The umask cannot widen the mode, but an odd one could narrow it below 0600; set it exactly.
                File.SetUnixFileMode(temporary, OwnerOnly);
            }
            File.Move(temporary, full, overwrite: force);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            string reason = !force && File.Exists(full)
                ? "already exists (not overwritten without force)"
                : e is UnauthorizedAccessException ? "permission denied" : e.Message;
            throw new KeyFileException(path, reason, e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(line);
        }
    }

    /// <summary>The secret in base58btc: what <c>ww keygen</c> prints and what a key file holds.</summary>
    public string ExportSecretBase58()
    {
        Span<byte> secret = stackalloc byte[SecretLength];
        try
        {
            _key.WriteToSpan(secret);
            return Base58.Bitcoin.Encode(secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>
    /// Writes the 32-byte secret (big-endian) into <paramref name="destination"/>, for handing the key to another
    /// signer (an EVM transaction of <c>ww push --stem</c>) without a string copy; the caller clears it after use.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not 32 bytes.</exception>
    public void WriteSecret(Span<byte> destination)
    {
        if (destination.Length != SecretLength)
        {
            throw new ArgumentException($"a secret is {SecretLength} bytes, not {destination.Length}", nameof(destination));
        }
        _key.WriteToSpan(destination);
    }

    /// <summary>
    /// Signs <paramref name="payload"/> in <paramref name="domain"/> (identity.md, "Signing envelope"): ECDSA over
    /// SHA-256 of the envelope, deterministic (RFC 6979), returned as 64-byte compact <c>r || s</c> with low <c>s</c>.
    /// </summary>
    public byte[] Sign(string domain, string payloadType, ReadOnlySpan<byte> payload)
    {
        byte[] envelope = SigningEnvelope.Build(domain, payloadType, payload);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(envelope, digest);
        // libsecp256k1's signing (which NBitcoin.Secp256k1 ports) always normalizes to low s.
        if (!_key.TrySignECDSA(digest, out SecpECDSASignature? signature) || signature is null)
        {
            throw new CryptographicException("secp256k1 signing failed");
        }
        var compact = new byte[64];
        signature.WriteCompactToSpan(compact);
        return compact;
    }

    /// <summary>
    /// Signs <paramref name="data"/> the way libp2p's key spec signs with a secp256k1 key (the Noise handshake
    /// payload, signed peer records): ECDSA over SHA-256(data), deterministic (RFC 6979), low <c>s</c>, DER-encoded.
    /// No signing envelope: the caller's protocol defines the bytes.
    /// </summary>
    public byte[] SignLibp2p(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(data, digest);
        if (!_key.TrySignECDSA(digest, out SecpECDSASignature? signature) || signature is null)
        {
            throw new CryptographicException("secp256k1 signing failed");
        }
        Span<byte> der = stackalloc byte[72];
        signature.WriteDerToSpan(der, out int length);
        return der[..length].ToArray();
    }

    /// <summary>Shows the Peer ID, never the secret.</summary>
    public override string ToString() => $"NodeKey {PeerId}";

    /// <summary>Clears the secret; signing afterwards throws.</summary>
    public void Dispose() => _key.Dispose();

    private static bool TryCreate(ReadOnlySpan<byte> secret, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NodeKey? key, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? reason)
    {
        key = null;
        if (secret.Length != SecretLength)
        {
            reason = $"a secret is {SecretLength} bytes, not {secret.Length}";
            return false;
        }
        if (!secret.ContainsAnyExcept((byte)0))
        {
            reason = "the secret is zero";
            return false;
        }
        if (!Context.Instance.TryCreateECPrivKey(secret, out ECPrivKey? ecKey))
        {
            reason = "the secret is not below the secp256k1 group order";
            return false;
        }
        key = new NodeKey(ecKey);
        reason = null;
        return true;
    }

    private static byte[] Read(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                throw new KeyFileException(path, "is a directory");
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            // Read at most one byte past the limit so a huge file is refused without reading it whole.
            var buffer = new byte[KeyFile.MaxBytes + 1];
            int total = 0;
            int n;
            while (total < buffer.Length && (n = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += n;
            }
            byte[] content = buffer[..total];
            CryptographicOperations.ZeroMemory(buffer);
            return content;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KeyFileException(path, "not found", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KeyFileException(path, "permission denied", e);
        }
        catch (IOException e)
        {
            throw new KeyFileException(path, e.Message, e);
        }
    }

    private static void WarnIfShared(string path, ILogger? logger)
    {
        if (OperatingSystem.IsWindows() || logger is null)
        {
            return;
        }
        UnixFileMode mode = File.GetUnixFileMode(path);
        if ((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
        {
            logger.LogWarning(
                "key file {Path} is readable by group or others (mode {Mode}); restrict it with chmod 600",
                path,
                Convert.ToString((int)mode & 0x1ff, 8).PadLeft(4, '0'));
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the leftover is mode 0600 and named after the key file, so it is found next to it.
        }
    }
}
