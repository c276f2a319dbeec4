namespace Wetware.Images;

/// <summary>An entry of the merged image: where it is, what it is, and which layer it comes from.</summary>
public sealed record ImageEntry(string Path, bool IsDirectory, long Length, DateTimeOffset Modified, string Layer);

/// <summary>
/// The per-file union of image layers (shared/spec/cli.md): later layers win per file, directories
/// merge, nothing is deleted, and a file in one layer where another has a directory is an error
/// naming both. The merge is an index of paths: no file is copied, contents are read on demand
/// from the layer that won. <c>/etc/identity</c> (the node key) is never part of a merged image.
/// </summary>
public sealed class MergedImage
{
    public const string IdentityPath = "/etc/identity";

    /// <summary>
    /// The <c>/etc/identity</c> the layers hold (the last one wins), for the host alone: the layer it came
    /// from and, when that layer is on this machine, the file's host path (null: a published layer, whose
    /// key must not be used).
    /// </summary>
    public (string Layer, string? HostPath)? IdentityFile => _identity;

    /// <summary>Paths no guest may ever see, with everything under them.</summary>
    public static readonly IReadOnlyList<string> Hidden = [IdentityPath];

    private sealed class Node(bool isDirectory, long length, DateTimeOffset modified, int layer, string source)
    {
        public bool IsDirectory = isDirectory;
        public long Length = length;
        public DateTimeOffset Modified = modified;
        public int Layer = layer;
        public string Source = source; // path inside the layer's tree
        public SortedSet<string>? Children = isDirectory ? new(StringComparer.Ordinal) : null;
    }

    private readonly Dictionary<string, Node> _index = new(StringComparer.Ordinal);
    private (string Layer, string? HostPath)? _identity;
    private readonly List<ILayerTree> _trees = [];

    private MergedImage()
    {
    }

    /// <summary>The layers, in merge order, by name.</summary>
    public IReadOnlyList<string> Layers => _trees.Select(t => t.Name).ToList();

    /// <summary>Number of paths in the image (directories included, the root too).</summary>
    public int Count => _index.Count;

    /// <summary>Merges trees in order; each is placed at its target path ("/" for an ordinary layer).</summary>
    public static MergedImage Merge(IEnumerable<(ILayerTree Tree, string Target)> layers)
    {
        var image = new MergedImage();
        image._index["/"] = new Node(true, 0, DateTimeOffset.UnixEpoch, -1, "/");
        foreach (var (tree, target) in layers)
        {
            image.Add(tree, ImagePath.Normalize(target, tree.Name));
        }
        return image;
    }

    private void Add(ILayerTree tree, string target)
    {
        int layer = _trees.Count;
        _trees.Add(tree);
        foreach (LayerEntry e in tree.Walk())
        {
            string path = e.Path == "/" ? target : (target == "/" ? ImagePath.Normalize(e.Path) : target + ImagePath.Normalize(e.Path));
            if (IsHidden(path))
            {
                if (path == IdentityPath && !e.IsDirectory)
                {
                    // Kept for the host (identity.md: a node key in a local layer), never for a guest.
                    _identity = (tree.Name, (tree as LocalDirectoryTree)?.HostPath(e.Path) ?? (tree as LocalFileTree)?.HostPath);
                }
                continue;
            }
            if (path == "/" && !e.IsDirectory)
            {
                throw new ImageException($"layer '{tree.Name}' is a file: only a mount (SOURCE:/TARGET) can place a file in the image");
            }
            EnsureParents(path, tree.Name, layer);
            if (_index.TryGetValue(path, out Node? existing))
            {
                if (existing.IsDirectory != e.IsDirectory)
                {
                    var (fileLayer, dirLayer) = existing.IsDirectory ? (tree.Name, LayerName(existing.Layer)) : (LayerName(existing.Layer), tree.Name);
                    throw new ImageException($"'{path}' is a file in layer '{fileLayer}' and a directory in layer '{dirLayer}'");
                }
                if (!e.IsDirectory)
                {
                    // Later layers win per file.
                    existing.Length = e.Length;
                    existing.Modified = e.Modified;
                    existing.Layer = layer;
                    existing.Source = e.Path;
                }
                continue;
            }
            _index[path] = new Node(e.IsDirectory, e.Length, e.Modified, layer, e.Path);
            _index[ImagePath.Parent(path)].Children!.Add(ImagePath.Name(path));
        }
    }

    /// <summary>Makes the directories above <paramref name="path"/> (a mount's target may name new ones).</summary>
    private void EnsureParents(string path, string layerName, int layer)
    {
        if (path == "/")
        {
            return;
        }
        string parent = ImagePath.Parent(path);
        if (_index.TryGetValue(parent, out Node? node))
        {
            if (!node.IsDirectory)
            {
                throw new ImageException($"'{parent}' is a file in layer '{LayerName(node.Layer)}' and a directory in layer '{layerName}'");
            }
            return;
        }
        EnsureParents(parent, layerName, layer);
        _index[parent] = new Node(true, 0, DateTimeOffset.UnixEpoch, layer, "");
        _index[ImagePath.Parent(parent)].Children!.Add(ImagePath.Name(parent));
    }

    private string LayerName(int layer) => layer < 0 ? "(root)" : _trees[layer].Name;

    private static bool IsHidden(string path) =>
        Hidden.Any(h => path == h || path.StartsWith(h + "/", StringComparison.Ordinal));

    /// <summary>The entry at <paramref name="path"/>, if the image has one.</summary>
    public bool TryGet(string path, out ImageEntry entry)
    {
        string p;
        try
        {
            p = ImagePath.Normalize(path);
        }
        catch (ImageException)
        {
            entry = null!;
            return false;
        }
        if (!_index.TryGetValue(p, out Node? n))
        {
            entry = null!;
            return false;
        }
        entry = new ImageEntry(p, n.IsDirectory, n.Length, n.Modified, LayerName(n.Layer));
        return true;
    }

    /// <summary>The entries of a directory, in name order.</summary>
    public IReadOnlyList<ImageEntry> List(string directory)
    {
        string p = ImagePath.Normalize(directory);
        if (!_index.TryGetValue(p, out Node? n))
        {
            throw new FileNotFoundException($"no '{p}' in the image", p);
        }
        if (!n.IsDirectory)
        {
            throw new IOException($"'{p}' is not a directory");
        }
        var entries = new List<ImageEntry>(n.Children!.Count);
        foreach (string name in n.Children)
        {
            string child = ImagePath.Join(p, name);
            Node c = _index[child];
            entries.Add(new ImageEntry(child, c.IsDirectory, c.Length, c.Modified, LayerName(c.Layer)));
        }
        return entries;
    }

    /// <summary>Opens a file for reading, from the layer that won it.</summary>
    public Stream OpenRead(string path)
    {
        string p = ImagePath.Normalize(path);
        if (!_index.TryGetValue(p, out Node? n))
        {
            throw new FileNotFoundException($"no '{p}' in the image", p);
        }
        if (n.IsDirectory)
        {
            throw new IOException($"'{p}' is a directory");
        }
        return _trees[n.Layer].OpenRead(n.Source);
    }
}
