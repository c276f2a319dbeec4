using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace Wetware.Cells;

/// <summary>
/// Compiled modules on disk, by content hash: <c>DIR/modules/KEY/SHA256.cwasm</c>, where KEY names the
/// Wasmtime version, the architecture and the engine settings that change code (DWARF). Entries are written
/// to a temporary file and renamed into place, so concurrent runs never see half a file. Wasmtime trusts
/// what it deserializes, so each entry carries the SHA-256 of its payload, checked before use: a corrupt or
/// foreign entry is recompiled and replaced, never loaded.
/// </summary>
public sealed class ModuleCache(string directory)
{
    private static ReadOnlySpan<byte> Magic => "WWCM\x01\0\0\0"u8;

    private const int HeaderBytes = 8 + 32;

    /// <summary>The cache's root directory.</summary>
    public string Directory { get; } = directory;

    /// <summary><c>$XDG_CACHE_HOME/ww</c>, or <c>~/.cache/ww</c>.</summary>
    public static string DefaultDirectory
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string baseDir = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(baseDir, "ww");
        }
    }

    internal string EntryPath(string engineKey, string hash) => Path.Combine(Directory, "modules", engineKey, hash + ".cwasm");

    /// <summary>The verified payload of an entry, or null when there is none or it fails the check.</summary>
    internal byte[]? TryRead(string engineKey, string hash, ILogger logger)
    {
        string path = EntryPath(engineKey, hash);
        byte[] bytes;
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CacheEntryRejected(logger, path, e.Message);
            return null;
        }
        if (bytes.Length < HeaderBytes || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            Log.CacheEntryRejected(logger, path, "bad header");
            return null;
        }
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(bytes.AsSpan(HeaderBytes), digest);
        if (!digest.SequenceEqual(bytes.AsSpan(8, 32)))
        {
            Log.CacheEntryRejected(logger, path, "checksum mismatch");
            return null;
        }
        return bytes[HeaderBytes..];
    }

    /// <summary>Stores a compiled module; failures are logged and otherwise ignored (the cache is an optimization).</summary>
    internal void Write(string engineKey, string hash, byte[] payload, ILogger logger)
    {
        string path = EntryPath(engineKey, hash);
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Span<byte> header = stackalloc byte[HeaderBytes];
                Magic.CopyTo(header);
                SHA256.HashData(payload, header[8..]);
                file.Write(header);
                file.Write(payload);
                file.Flush(flushToDisk: true);
            }
            // rename(2) is atomic: readers see the old entry, the new one, or none; never a torn file.
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CacheWriteFailed(logger, path, e.Message);
            try
            {
                File.Delete(temp);
            }
            catch (Exception)
            {
                // Best effort.
            }
        }
    }
}
