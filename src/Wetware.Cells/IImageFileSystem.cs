namespace Wetware.Cells;

/// <summary>
/// The read-only file tree a guest sees at fd 3 (its <c>/</c>). Paths are relative to the root, use <c>/</c>
/// between components and never contain empty, <c>.</c> or <c>..</c> components: the WASI layer resolves
/// those before asking (<c>..</c> never leaves the root). The root itself is the empty string.
/// Implementations must be safe to call from several cells' threads at once.
/// </summary>
public interface IImageFileSystem
{
    /// <summary>What is at <paramref name="path"/>, or null when nothing is (including hidden paths).</summary>
    ImageEntry? GetEntry(string path);

    /// <summary>The entries of the directory at <paramref name="path"/> (no <c>.</c> or <c>..</c>), in a stable order.</summary>
    /// <exception cref="FileNotFoundException">Nothing is there, or it is not a directory.</exception>
    IReadOnlyList<ImageDirectoryEntry> ListDirectory(string path);

    /// <summary>Opens the regular file at <paramref name="path"/> for positional reads.</summary>
    /// <exception cref="FileNotFoundException">Nothing is there, or it is not a regular file.</exception>
    IImageFile OpenFile(string path);
}

/// <summary>An open regular file of an image.</summary>
public interface IImageFile : IDisposable
{
    /// <summary>The file's size in bytes.</summary>
    long Length { get; }

    /// <summary>Reads up to <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; 0 at or past the end.</summary>
    int Read(long offset, Span<byte> destination);
}

/// <summary>The two kinds of entry an image holds (symbolic links are resolved or hidden, never shown).</summary>
public enum ImageEntryKind
{
    /// <summary>A regular file.</summary>
    File,

    /// <summary>A directory.</summary>
    Directory,
}

/// <summary>The metadata of one image entry.</summary>
/// <param name="Kind">File or directory.</param>
/// <param name="Size">Size in bytes (0 for directories).</param>
/// <param name="ModifiedTime">Last modification time.</param>
public readonly record struct ImageEntry(ImageEntryKind Kind, long Size, DateTimeOffset ModifiedTime);

/// <summary>One entry of a directory listing.</summary>
/// <param name="Name">The entry's name (one path component).</param>
/// <param name="Kind">File or directory.</param>
public readonly record struct ImageDirectoryEntry(string Name, ImageEntryKind Kind);
