using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Wetware.Cells;

/// <summary>
/// An <see cref="IImageFileSystem"/> over a directory of the host, read-only. Symbolic links are resolved
/// here, component by component, and followed only while they stay inside the directory: a link that points
/// out of it (or loops) reads as absent. Only directories and regular files are shown.
/// </summary>
public sealed partial class HostDirectoryImage : IImageFileSystem
{
    private const int MaxLinkHops = 40;
    private readonly string _root;

    /// <param name="directory">The directory that becomes the guest's <c>/</c>.</param>
    /// <exception cref="DirectoryNotFoundException">It does not exist.</exception>
    public HostDirectoryImage(string directory)
    {
        string full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"image directory not found: {directory}");
        }
        // The root's own links are the host's business: resolve them once, allowing anything.
        _root = Resolve("/", full.Split('/', StringSplitOptions.RemoveEmptyEntries), confine: false)
            ?? throw new DirectoryNotFoundException($"image directory not found: {directory}");
    }

    /// <summary>The host directory, with its own symbolic links resolved.</summary>
    public string Root => _root;

    /// <inheritdoc/>
    public ImageEntry? GetEntry(string path)
    {
        string? host = HostPath(path);
        if (host is null)
        {
            return null;
        }
        var info = new FileInfo(host);
        FileAttributes attributes = info.Attributes;
        if ((int)attributes == -1)
        {
            return null;
        }
        if ((attributes & FileAttributes.Directory) != 0)
        {
            return new ImageEntry(ImageEntryKind.Directory, 0, new DirectoryInfo(host).LastWriteTimeUtc);
        }
        return info.Exists ? new ImageEntry(ImageEntryKind.File, info.Length, info.LastWriteTimeUtc) : null;
    }

    /// <inheritdoc/>
    public IReadOnlyList<ImageDirectoryEntry> ListDirectory(string path)
    {
        string host = HostPath(path) ?? throw new FileNotFoundException("no such directory", path);
        if (!Directory.Exists(host))
        {
            throw new FileNotFoundException("not a directory", path);
        }
        var entries = new List<ImageDirectoryEntry>();
        foreach (string child in Directory.EnumerateFileSystemEntries(host))
        {
            string name = Path.GetFileName(child);
            // Links are listed as what they lead to; those leading out of the image are left out.
            ImageEntry? entry = GetEntry(path.Length == 0 ? name : path + "/" + name);
            if (entry is { } e)
            {
                entries.Add(new ImageDirectoryEntry(name, e.Kind));
            }
        }
        entries.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return entries;
    }

    /// <inheritdoc/>
    public IImageFile OpenFile(string path)
    {
        string host = HostPath(path) ?? throw new FileNotFoundException("no such file", path);
        if (Directory.Exists(host))
        {
            throw new FileNotFoundException("not a regular file", path);
        }
        SafeFileHandle handle = OpenReadOnly(host) ?? throw new FileNotFoundException("no such file", path);
        try
        {
            // Pipes and devices cannot seek: they are not image files, and reading one could block the host.
            return new HostFile(handle, RandomAccess.GetLength(handle));
        }
        catch (NotSupportedException)
        {
            handle.Dispose();
            throw new FileNotFoundException("not a regular file", path);
        }
    }

    private string? HostPath(string path) =>
        Resolve(_root, path.Length == 0 ? [] : path.Split('/'), confine: true);

    /// <summary>
    /// Walks <paramref name="components"/> from <paramref name="start"/>, following symbolic links. With
    /// <paramref name="confine"/>, any step that would leave <see cref="_root"/> (a <c>..</c> above it, an
    /// absolute target elsewhere) gives null. The result contains no links (short of a concurrent change).
    /// </summary>
    private string? Resolve(string start, IEnumerable<string> components, bool confine)
    {
        var todo = new Stack<string>(components.Reverse());
        var parts = new List<string>();
        string baseDir = start;
        int hops = 0;
        while (todo.Count > 0)
        {
            string c = todo.Pop();
            if (c.Length == 0 || c == ".")
            {
                continue;
            }
            if (c == "..")
            {
                if (parts.Count == 0)
                {
                    if (confine)
                    {
                        return null;
                    }
                    continue;
                }
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            string candidate = Join(baseDir, parts, c);
            var info = new FileInfo(candidate);
            FileAttributes attributes = info.Attributes;
            if ((int)attributes == -1)
            {
                return null;
            }
            if ((attributes & FileAttributes.ReparsePoint) == 0)
            {
                parts.Add(c);
                continue;
            }
            string? target = info.LinkTarget;
            if (target is null || ++hops > MaxLinkHops)
            {
                return null;
            }
            string[] targetParts = target.Split('/');
            if (Path.IsPathRooted(target))
            {
                if (confine)
                {
                    if (target != _root && !target.StartsWith(_root + "/", StringComparison.Ordinal))
                    {
                        return null;
                    }
                    targetParts = target[_root.Length..].Split('/');
                }
                else
                {
                    baseDir = "/";
                }
                parts.Clear();
            }
            for (int i = targetParts.Length - 1; i >= 0; i--)
            {
                todo.Push(targetParts[i]);
            }
        }
        return Join(baseDir, parts, null);
    }

    private static string Join(string baseDir, List<string> parts, string? last)
    {
        var joined = new System.Text.StringBuilder(baseDir.TrimEnd('/'));
        foreach (string p in parts)
        {
            joined.Append('/').Append(p);
        }
        if (last is not null)
        {
            joined.Append('/').Append(last);
        }
        return joined.Length == 0 ? "/" : joined.ToString();
    }

    /// <summary>
    /// Opens without blocking: a plain open(2) of a FIFO waits for a writer, which would hang the cell's thread
    /// where no kill can reach it. Non-blocking mode does not change reads of regular files.
    /// </summary>
    private static SafeFileHandle? OpenReadOnly(string path)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            int flags = OperatingSystem.IsLinux() ? 0x800 | 0x80000 : 0x4 | 0x1000000; // O_NONBLOCK | O_CLOEXEC
            int fd = Open(path, flags);
            return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
        }
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    private sealed class HostFile(SafeFileHandle handle, long length) : IImageFile
    {
        public long Length => length;

        public int Read(long offset, Span<byte> destination) =>
            offset >= length ? 0 : RandomAccess.Read(handle, destination, offset);

        public void Dispose() => handle.Dispose();
    }
}
