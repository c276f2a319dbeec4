namespace Wetware.Images;

/// <summary>One entry of a layer's tree. <see cref="Path"/> is an image path relative to the tree's root ("/" is the root itself).</summary>
public readonly record struct LayerEntry(string Path, bool IsDirectory, long Length, DateTimeOffset Modified);

/// <summary>
/// A read-only tree a layer contributes: walked once (names and sizes only) to build the merged
/// index; file contents are opened on demand. Local directories now, IPFS trees later.
/// </summary>
public interface ILayerTree
{
    /// <summary>How the layer is named in messages (the argument the user gave).</summary>
    string Name { get; }

    /// <summary>Every entry, parents before their children, starting with the root ("/").</summary>
    IEnumerable<LayerEntry> Walk();

    /// <summary>Opens a file of the tree for reading.</summary>
    Stream OpenRead(string path);
}

/// <summary>
/// A directory on this machine. Symbolic links are followed only to files inside the directory;
/// links that lead out of it, and links to directories, are left out, so a layer never exposes
/// anything beyond its own tree.
/// </summary>
public sealed class LocalDirectoryTree : ILayerTree
{
    private readonly string _root;

    public LocalDirectoryTree(string root, string name)
    {
        _root = Path.GetFullPath(root);
        Name = name;
    }

    public string Name { get; }

    public IEnumerable<LayerEntry> Walk()
    {
        var rootInfo = new DirectoryInfo(_root);
        yield return new LayerEntry("/", true, 0, rootInfo.LastWriteTimeUtc);
        var pending = new Stack<(DirectoryInfo Dir, string ImagePath)>();
        pending.Push((rootInfo, "/"));
        while (pending.Count > 0)
        {
            var (dir, imagePath) = pending.Pop();
            FileSystemInfo[] children;
            try
            {
                children = dir.GetFileSystemInfos();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageException($"layer '{Name}': cannot read directory '{dir.FullName}': {e.Message}");
            }
            Array.Sort(children, (a, b) => string.CompareOrdinal(a.Name, b.Name));
            var subdirectories = new List<(DirectoryInfo, string)>();
            foreach (FileSystemInfo child in children)
            {
                string path = ImagePath.Join(imagePath, child.Name);
                if (child.LinkTarget is not null)
                {
                    if (ResolveInside(child) is FileInfo target)
                    {
                        yield return new LayerEntry(path, false, target.Length, target.LastWriteTimeUtc);
                    }
                    continue;
                }
                switch (child)
                {
                    case DirectoryInfo d:
                        yield return new LayerEntry(path, true, 0, d.LastWriteTimeUtc);
                        subdirectories.Add((d, path));
                        break;
                    case FileInfo f when (f.Attributes & FileAttributes.Device) == 0:
                        yield return new LayerEntry(path, false, f.Length, f.LastWriteTimeUtc);
                        break;
                }
            }
            // Depth first, in name order.
            for (int i = subdirectories.Count - 1; i >= 0; i--)
            {
                pending.Push(subdirectories[i]);
            }
        }
    }

    /// <summary>The file a link finally points at, if it is a regular file inside the root.</summary>
    private FileInfo? ResolveInside(FileSystemInfo link)
    {
        try
        {
            FileSystemInfo? target = link.ResolveLinkTarget(returnFinalTarget: true);
            if (target is FileInfo { Exists: true } file && IsInside(file.FullName))
            {
                return file;
            }
        }
        catch (IOException)
        {
            // A loop or a dangling link: left out.
        }
        return null;
    }

    private bool IsInside(string fullPath) =>
        fullPath.StartsWith(_root.EndsWith('/') ? _root : _root + "/", StringComparison.Ordinal);

    /// <summary>Where a path of this tree is on this machine.</summary>
    public string HostPath(string path) => Path.GetFullPath(Path.Join(_root, ImagePath.Normalize(path)));

    public Stream OpenRead(string path)
    {
        string host = HostPath(path);
        if (host != _root && !IsInside(host))
        {
            throw new ImageException($"layer '{Name}': '{path}' is outside the layer");
        }
        var info = new FileInfo(host);
        if (info.LinkTarget is not null && ResolveInside(info) is null)
        {
            throw new ImageException($"layer '{Name}': '{path}' links outside the layer");
        }
        return new FileStream(host, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
    }
}

/// <summary>A single file on this machine, as the source of a mount (<c>./tool.wasm:/bin/tool</c>).</summary>
public sealed class LocalFileTree(string file, string name) : ILayerTree
{
    private readonly string _file = Path.GetFullPath(file);

    public string Name => name;

    /// <summary>The file on this machine.</summary>
    public string HostPath => _file;

    public IEnumerable<LayerEntry> Walk()
    {
        var info = new FileInfo(_file);
        yield return new LayerEntry("/", false, info.Length, info.LastWriteTimeUtc);
    }

    public Stream OpenRead(string path)
    {
        if (ImagePath.Normalize(path) != "/")
        {
            throw new ImageException($"layer '{Name}' is a single file; '{path}' is not in it");
        }
        return new FileStream(_file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
    }
}
