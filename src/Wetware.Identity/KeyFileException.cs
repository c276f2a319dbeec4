namespace Wetware.Identity;

/// <summary>
/// A key file that cannot be read, parsed or written. The message names the file and what is wrong,
/// and never contains the secret (identity.md, "Keys").
/// </summary>
public sealed class KeyFileException : Exception
{
    public KeyFileException(string path, string reason, Exception? inner = null)
        : base($"key file {path}: {reason}", inner)
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>The path as the caller gave it.</summary>
    public string Path { get; }

    /// <summary>What is wrong with the file.</summary>
    public string Reason { get; }
}
