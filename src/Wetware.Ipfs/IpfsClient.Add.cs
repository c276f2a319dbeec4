using System.Text.Json;

namespace Wetware.Ipfs;

public sealed partial class IpfsClient
{
    // The name of the tree's root in the multipart body; it is not part of any CID.
    private const string RootName = "root";

    /// <summary>Adds one file read from <paramref name="content"/> (read once, left open); returns its CID.</summary>
    public Task<Cid> AddAsync(Stream content, IpfsAddOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        // js-ipfs finds a filename only when it has two characters or more; the name is not part of the CID.
        return AddPartsAsync([MultipartFilesContent.Part.FromStream("file", content)], "file", options, cancellationToken);
    }

    /// <summary>Adds bytes as one file; returns its CID.</summary>
    public Task<Cid> AddAsync(ReadOnlyMemory<byte> content, IpfsAddOptions? options = null, CancellationToken cancellationToken = default) =>
        AddPartsAsync([MultipartFilesContent.Part.FromMemory("file", content)], "file", options, cancellationToken);

    /// <summary>
    /// Adds a local directory as one UnixFS tree; returns the CID of its root. <paramref name="include"/> sees each
    /// path relative to the root with '/' separators (<c>etc/motd</c>, <c>bin</c>) and may skip it (a skipped
    /// directory is skipped whole). Symbolic links to files add the file; links to directories are refused.
    /// </summary>
    public Task<Cid> AddDirectoryAsync(
        string directory, IpfsAddOptions? options = null, Func<string, bool>? include = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var root = new DirectoryInfo(directory);
        if (!root.Exists)
        {
            throw new DirectoryNotFoundException($"no directory at {directory}");
        }
        // Parents come before their children, depth first, names in ordinal order: the order Kubo's multipart
        // reader needs (it builds the tree as the parts arrive); js-ipfs accepts it as well.
        var parts = new List<MultipartFilesContent.Part> { MultipartFilesContent.Part.Directory(RootName) };
        Walk(root, "");
        return AddPartsAsync(parts, RootName, options, cancellationToken);

        void Walk(DirectoryInfo dir, string prefix)
        {
            foreach (FileSystemInfo info in dir.EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                string relative = prefix + info.Name;
                if (include is not null && !include(relative))
                {
                    continue;
                }
                if (info is DirectoryInfo sub)
                {
                    if (sub.LinkTarget is not null)
                    {
                        throw new IOException($"{sub.FullName} is a symbolic link to a directory; only files and directories are added");
                    }
                    parts.Add(MultipartFilesContent.Part.Directory(RootName + "/" + relative));
                    Walk(sub, relative + "/");
                }
                else
                {
                    parts.Add(MultipartFilesContent.Part.FromFile(RootName + "/" + relative, info.FullName));
                }
            }
        }
    }

    private async Task<Cid> AddPartsAsync(
        IReadOnlyList<MultipartFilesContent.Part> parts, string rootName, IpfsAddOptions? options, CancellationToken cancellationToken)
    {
        options ??= new IpfsAddOptions();
        string what = parts.Count == 1 ? "add" : $"add of a tree of {parts.Count - 1} entries";
        var query = new List<(string, string)>
        {
            ("cid-version", options.CidVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("pin", options.Pin ? "true" : "false"),
            ("progress", "false"),
            // Long adds are fine: the whole-call limit is the long one; stalls are caught by our own timer.
            ("timeout", Duration(Options.StreamTimeout)),
        };
        if (options.RawLeaves is { } raw)
        {
            query.Add(("raw-leaves", raw ? "true" : "false"));
        }
        if (options.OnlyHash)
        {
            query.Add(("only-hash", "true"));
        }
        if (options.Chunker is { } chunker)
        {
            query.Add(("chunker", chunker));
        }
        using var call = new Call(this, what, CancellationTokenSource.CreateLinkedTokenSource(cancellationToken));
        var content = new MultipartFilesContent(parts, call);
        using HttpResponseMessage response = await call.SendAsync(Request("add", query, content), cancellationToken).ConfigureAwait(false);
        Stream body = await call.ReadBodyStreamAsync(response, cancellationToken).ConfigureAwait(false);
        // The answer has one JSON line per file and directory added, the root last (both nodes).
        byte[] answer = await call.ReadAllAsync(body, MaxJsonAnswerBytes, cancellationToken).ConfigureAwait(false);
        CheckTrailer(response, what);
        string? rootHash = null;
        string? lastHash = null;
        foreach (string line in System.Text.Encoding.UTF8.GetString(answer).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            using JsonDocument doc = ParseLine(line, what);
            JsonElement root = doc.RootElement;
            // Kubo may report a failure half-way as an error object on its own line.
            if (GetString(root, "Type") == "error" || (GetString(root, "Message") is not null && GetString(root, "Hash") is null))
            {
                throw NodeError(what, GetString(root, "Message") ?? "error", null, (int)response.StatusCode);
            }
            if (GetString(root, "Hash") is { } hash)
            {
                lastHash = hash;
                if (GetString(root, "Name") == rootName)
                {
                    rootHash = hash;
                }
            }
        }
        return ParseCid(rootHash ?? lastHash ?? throw Protocol(what, "no CID in the answer"), what);
    }

    private JsonDocument ParseLine(string line, string what)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw Protocol(what, "a line of the answer is not JSON: " + e.Message);
        }
    }
}
