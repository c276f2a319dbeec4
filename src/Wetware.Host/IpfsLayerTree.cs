using Microsoft.Extensions.Logging;
using Wetware.Images;
using Wetware.Ipfs;

namespace Wetware.Host;

/// <summary>
/// An <c>/ipfs/&lt;cid&gt;[/sub/path]</c> layer (shared/spec/cli.md): the tree is listed once, when the layer is
/// opened (a recursive <c>ls</c>: names, sizes and CIDs), and a file is fetched only when it is first opened.
/// Fetched files are kept on disk by CID in <see cref="IpfsFileCache"/>, so a later open, or a later run, of the
/// same content needs no network. A path naming a single file is a one-file tree (a mount source).
/// </summary>
internal sealed class IpfsLayerTree : ILayerTree
{
    private readonly IpfsClient _client;
    private readonly IpfsFileCache _cache;
    private readonly List<LayerEntry> _entries = [];
    private readonly Dictionary<string, (Cid Cid, long Length)> _files = new(StringComparer.Ordinal);

    private IpfsLayerTree(IpfsClient client, IpfsFileCache cache, string name)
    {
        _client = client;
        _cache = cache;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Lists the layer's tree. Failures (node down, unknown CID past the timeout, ...) are <see cref="ImageException"/>s naming the layer.</summary>
    public static async Task<IpfsLayerTree> OpenAsync(IpfsClient client, IpfsFileCache cache, IpfsLayer layer, ILogger logger, CancellationToken cancellationToken)
    {
        var tree = new IpfsLayerTree(client, cache, layer.Text);
        string path = layer.Path.TrimEnd('/');
        try
        {
            Cid root = await ResolveAsync(client, path, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<IpfsEntry> top = await client.LsAsync(root.ToString(), cancellationToken).ConfigureAwait(false);
            // js-ipfs lists a file as one entry, the file itself; Kubo lists a file as nothing (or as its unnamed
            // chunks, which LsAsync leaves out). An empty listing is a file when cat takes it, else an empty directory.
            if (top.Count == 1 && top[0].Type == IpfsEntryType.File && top[0].Cid.Equals(root))
            {
                tree.AddFile("/", root, (long)top[0].Size);
            }
            else if (top.Count == 0 && await cache.TryFetchFileAsync(client, root, cancellationToken).ConfigureAwait(false) is { } length)
            {
                tree.AddFile("/", root, length);
            }
            else
            {
                tree._entries.Add(new LayerEntry("/", true, 0, DateTimeOffset.UnixEpoch));
                await tree.AddDirectoryAsync("/", top, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (IpfsException e)
        {
            throw new ImageException($"layer '{layer.Text}': {e.Message}");
        }
        logger.LogDebug("IPFS layer {Layer}: {Count} entries listed", layer.Text, tree._entries.Count);
        return tree;
    }

    /// <summary>The CID a path names (a bare <c>/ipfs/&lt;cid&gt;</c> needs no call).</summary>
    private static async Task<Cid> ResolveAsync(IpfsClient client, string path, CancellationToken cancellationToken)
    {
        string rest = path["/ipfs/".Length..];
        if (!rest.Contains('/'))
        {
            return Cid.TryParse(rest, out Cid? cid, out string? reason)
                ? cid
                : throw new ImageException($"'{rest}' is not a CID: {reason}");
        }
        string resolved = await client.ResolveAsync(path, cancellationToken).ConfigureAwait(false);
        string text = resolved.StartsWith("/ipfs/", StringComparison.Ordinal) ? resolved["/ipfs/".Length..] : resolved;
        return Cid.TryParse(text.TrimEnd('/'), out Cid? resolvedCid, out string? why)
            ? resolvedCid
            : throw new ImageException($"the IPFS node resolved '{path}' to '{resolved}', which is not a CID: {why}");
    }

    private void AddFile(string path, Cid cid, long length)
    {
        _entries.Add(new LayerEntry(path, false, length, DateTimeOffset.UnixEpoch));
        _files[path] = (cid, length);
    }

    private async Task AddDirectoryAsync(string directory, IReadOnlyList<IpfsEntry> entries, CancellationToken cancellationToken)
    {
        var subdirectories = new List<(string, Cid)>();
        foreach (IpfsEntry e in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (e.Name.Contains('/') || e.Name is "." or ".." || e.Name.Contains('\0'))
            {
                throw new ImageException($"layer '{Name}': the entry '{e.Name}' of '{directory}' is not a valid name");
            }
            string path = ImagePath.Join(directory, e.Name);
            switch (e.Type)
            {
                case IpfsEntryType.File:
                    AddFile(path, e.Cid, (long)e.Size);
                    break;
                case IpfsEntryType.Directory:
                    _entries.Add(new LayerEntry(path, true, 0, DateTimeOffset.UnixEpoch));
                    subdirectories.Add((path, e.Cid));
                    break;
                default:
                    // Symbolic links and raw blocks are not part of an image.
                    break;
            }
        }
        foreach (var (path, cid) in subdirectories)
        {
            IReadOnlyList<IpfsEntry> children = await _client.LsAsync(cid.ToString(), cancellationToken).ConfigureAwait(false);
            await AddDirectoryAsync(path, children, cancellationToken).ConfigureAwait(false);
        }
    }

    public IEnumerable<LayerEntry> Walk() => _entries;

    /// <summary>Opens a file: from the disk cache, else fetched from the node into it first (this blocks the caller).</summary>
    public Stream OpenRead(string path)
    {
        string p = ImagePath.Normalize(path);
        if (!_files.TryGetValue(p, out var file))
        {
            throw new ImageException($"layer '{Name}': no file '{p}' in it");
        }
        if (_cache.TryOpen(file.Cid, file.Length) is { } cached)
        {
            return cached;
        }
        try
        {
            Task.Run(() => _cache.FetchAsync(_client, file.Cid, file.Length, CancellationToken.None)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IpfsException or IOException or UnauthorizedAccessException)
        {
            // The guest sees a file it cannot open (ENOENT), the host logs nothing more: the message says why.
            throw new ImageException($"layer '{Name}': cannot fetch '{p}' ({file.Cid}): {e.Message}");
        }
        return _cache.TryOpen(file.Cid, file.Length)
            ?? throw new ImageException($"layer '{Name}': '{p}' ({file.Cid}) was fetched but is not in the cache at {_cache.Directory}");
    }
}

/// <summary>
/// IPFS files on disk by CID: <c>DIR/CID</c>. Content-addressed, so an entry is valid for good; entries are written
/// to a temporary file and renamed into place, so a concurrent run never sees half a file.
/// </summary>
internal sealed class IpfsFileCache(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>The cache beside the module cache: <c>CACHE/ipfs</c> (the module cache is <c>CACHE/modules</c>).</summary>
    public static IpfsFileCache Beside(string cacheRoot) => new(Path.Combine(cacheRoot, "ipfs"));

    public string PathOf(Cid cid) => Path.Combine(Directory, cid.ToString());

    /// <summary>The cached file, if it is there with the expected length (null length: any).</summary>
    public Stream? TryOpen(Cid cid, long? length)
    {
        try
        {
            var stream = new FileStream(PathOf(cid), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
            if (length is { } expected && stream.Length != expected)
            {
                stream.Dispose();
                return null;
            }
            return stream;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Fetches a file into the cache (unless it is there already); returns its length.</summary>
    public async Task<long> FetchAsync(IpfsClient client, Cid cid, long? length, CancellationToken cancellationToken)
    {
        using (Stream? cached = TryOpen(cid, length))
        {
            if (cached is not null)
            {
                return cached.Length;
            }
        }
        System.IO.Directory.CreateDirectory(Directory);
        string target = PathOf(cid);
        string temp = $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            long written;
            await using (Stream source = await client.CatAsync(cid.ToString(), length ?? long.MaxValue, cancellationToken).ConfigureAwait(false))
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await source.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                written = file.Length;
            }
            if (length is { } expected && written != expected)
            {
                throw new IOException($"{cid}: the node sent {written} bytes where the listing said {expected}");
            }
            File.Move(temp, target, overwrite: true);
            return written;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Fetches a path's content when it is a file; null when the node says it is not (a directory).</summary>
    public async Task<long?> TryFetchFileAsync(IpfsClient client, Cid cid, CancellationToken cancellationToken)
    {
        try
        {
            return await FetchAsync(client, cid, null, cancellationToken).ConfigureAwait(false);
        }
        catch (IpfsException e) when (e.Kind == IpfsErrorKind.Node)
        {
            return null;
        }
    }
}
