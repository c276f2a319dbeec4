using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Wetware.Ipfs;

/// <summary>
/// A client of an IPFS node's HTTP RPC API (Kubo's <c>/api/v0/...</c>; js-ipfs serves the same API with the
/// differences noted where they are handled). Every call has a timeout (<see cref="IpfsClientOptions.Timeout"/>),
/// and every failure is an <see cref="IpfsException"/> naming the node's URL.
/// </summary>
public sealed partial class IpfsClient : IDisposable
{
    // Answers parsed as one JSON document (ls, pin ls, ...) are read whole; past this they are refused.
    private const int MaxJsonAnswerBytes = 64 << 20;
    private const int MaxErrorBodyBytes = 64 << 10;

    private readonly HttpClient _http;

    internal HttpClient Http => _http;
    private readonly Uri _apiBase;

    public IpfsClient(IpfsClientOptions? options = null)
        : this(options ?? new IpfsClientOptions(), CreateHandler(options ?? new IpfsClientOptions()), disposeHandler: true)
    {
    }

    public IpfsClient(IpfsClientOptions options, HttpMessageHandler handler, bool disposeHandler)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        // Our own timeouts (per call and per piece of a streamed body) replace HttpClient's whole-request one.
        _http = new HttpClient(handler, disposeHandler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        string url = options.ApiUrl.ToString();
        _apiBase = new Uri(url.EndsWith('/') ? url + "api/v0/" : url + "/api/v0/");
    }

    public IpfsClientOptions Options { get; }

    /// <summary>The node's API URL, as errors name it.</summary>
    public Uri ApiUrl => Options.ApiUrl;

    public void Dispose() => _http.Dispose();

    /// <summary>The node's peer ID and agent version (<c>id</c>): a cheap check that the node is up.</summary>
    public async Task<IpfsNodeInfo> IdAsync(CancellationToken cancellationToken = default)
    {
        using JsonDocument doc = await PostJsonAsync("id", [], cancellationToken).ConfigureAwait(false);
        JsonElement root = doc.RootElement;
        return new IpfsNodeInfo(GetString(root, "ID") ?? "", GetString(root, "AgentVersion") ?? "");
    }

    /// <summary>
    /// Opens the content of a UnixFS file (<c>cat</c>). The stream fails with <see cref="IpfsException"/> of kind
    /// <see cref="IpfsErrorKind.TooLarge"/> once more than <paramref name="maxBytes"/> arrive, of kind
    /// <see cref="IpfsErrorKind.Timeout"/> when the node stalls for longer than the timeout, and with the node's
    /// error when it reports one after it started answering. Dispose it to end the call.
    /// </summary>
    /// <param name="path">A CID, or <c>/ipfs/&lt;cid&gt;[/sub/path]</c>.</param>
    public async Task<Stream> CatAsync(string path, long maxBytes = long.MaxValue, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        string what = "cat " + path;
        // The node's timeout= bounds the whole answer (it is the only thing that stops js-ipfs waiting forever for a
        // CID nobody has), so it is the long StreamTimeout; our own timeout catches a stall sooner.
        var call = new Call(this, what, CancellationTokenSource.CreateLinkedTokenSource(cancellationToken));
        try
        {
            HttpResponseMessage response = await call.SendAsync(
                Request("cat", [("arg", path), ("timeout", Duration(Options.StreamTimeout))]), cancellationToken).ConfigureAwait(false);
            // Kubo announces the size in X-Content-Length, so content over the limit fails before a byte is read;
            // js-ipfs does not, and the limit is then enforced as the bytes arrive.
            if (response.Headers.TryGetValues("X-Content-Length", out IEnumerable<string>? values)
                && long.TryParse(values.FirstOrDefault(), out long announced) && announced > maxBytes)
            {
                response.Dispose();
                throw TooLarge(what, maxBytes, announced);
            }
            Stream body = await call.ReadBodyStreamAsync(response, cancellationToken).ConfigureAwait(false);
            return new ResponseStream(call, response, body, maxBytes);
        }
        catch
        {
            call.Dispose();
            throw;
        }
    }

    /// <summary>Writes the content of a UnixFS file to <paramref name="destination"/>; returns its length.</summary>
    public async Task<long> CatToAsync(string path, PipeWriter destination, long maxBytes = long.MaxValue, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        await using Stream source = await CatAsync(path, maxBytes, cancellationToken).ConfigureAwait(false);
        long total = 0;
        while (true)
        {
            Memory<byte> buffer = destination.GetMemory(64 << 10);
            int n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return total;
            }
            destination.Advance(n);
            total += n;
            FlushResult flushed = await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                // The reader is gone: stop fetching.
                return total;
            }
        }
    }

    /// <summary>The content of a UnixFS file as one array, refused past <paramref name="maxBytes"/>.</summary>
    public async Task<byte[]> CatBytesAsync(string path, int maxBytes, CancellationToken cancellationToken = default)
    {
        await using Stream source = await CatAsync(path, maxBytes, cancellationToken).ConfigureAwait(false);
        return await ReadAllAsync(source, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The entries of a UnixFS directory (<c>ls</c>); a file has none.</summary>
    public async Task<IReadOnlyList<IpfsEntry>> LsAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using JsonDocument doc = await PostJsonAsync("ls", [("arg", path)], cancellationToken).ConfigureAwait(false);
        var entries = new List<IpfsEntry>();
        if (!doc.RootElement.TryGetProperty("Objects", out JsonElement objects) || objects.ValueKind != JsonValueKind.Array)
        {
            throw Protocol("ls " + path, "no Objects in the answer");
        }
        foreach (JsonElement obj in objects.EnumerateArray())
        {
            if (!obj.TryGetProperty("Links", out JsonElement links) || links.ValueKind != JsonValueKind.Array)
            {
                continue;
            }
            foreach (JsonElement link in links.EnumerateArray())
            {
                string name = GetString(link, "Name") ?? "";
                // Kubo lists the blocks of a chunked file as links without a name; those are not directory entries.
                if (name.Length == 0)
                {
                    continue;
                }
                entries.Add(new IpfsEntry(name, ParseCid(GetString(link, "Hash"), "ls " + path), GetUInt64(link, "Size"), EntryType(link)));
            }
        }
        return entries;
    }

    /// <summary>Stores a block of raw bytes (<c>block/put</c>); returns its CIDv1 (codec raw).</summary>
    public async Task<Cid> BlockPutAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        // Kubo takes cid-codec (and, deprecated, format); js-ipfs 0.66 knows only format and ignores cid-codec
        // (without format it makes a dag-pb CIDv0). Kubo accepts both together when cid-codec is raw.
        var content = new MultipartFilesContent([MultipartFilesContent.Part.FromMemory("data", data)]);
        using JsonDocument doc = await PostJsonAsync("block/put", [("format", "raw"), ("cid-codec", "raw")], cancellationToken, content).ConfigureAwait(false);
        return ParseCid(GetString(doc.RootElement, "Key"), "block/put");
    }

    /// <summary>The bytes of a block (<c>block/get</c>), refused past <paramref name="maxBytes"/>.</summary>
    public async Task<byte[]> BlockGetAsync(Cid cid, int maxBytes = 4 << 20, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cid);
        string what = "block/get " + cid;
        using var call = new Call(this, what, CancellationTokenSource.CreateLinkedTokenSource(cancellationToken));
        call.Deadline(Options.Timeout);
        using HttpResponseMessage response = await call.SendAsync(
            Request("block/get", [("arg", cid.ToString()), ("timeout", Duration(Options.Timeout))]), cancellationToken).ConfigureAwait(false);
        Stream body = await call.ReadBodyStreamAsync(response, cancellationToken).ConfigureAwait(false);
        return await call.ReadAllAsync(body, maxBytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pins a CID or path recursively (<c>pin/add</c>).</summary>
    public async Task PinAddAsync(string path, CancellationToken cancellationToken = default)
    {
        string arg = await PinArgumentAsync(path, cancellationToken).ConfigureAwait(false);
        // A recursive pin fetches the whole DAG, so it gets the long limit of streaming calls.
        using JsonDocument doc = await PostJsonAsync("pin/add", [("arg", arg)], cancellationToken, content: null, Options.StreamTimeout).ConfigureAwait(false);
    }

    /// <summary>Removes a recursive pin (<c>pin/rm</c>); the node answers an error when it is not pinned.</summary>
    public async Task PinRmAsync(string path, CancellationToken cancellationToken = default)
    {
        string arg = await PinArgumentAsync(path, cancellationToken).ConfigureAwait(false);
        using JsonDocument doc = await PostJsonAsync("pin/rm", [("arg", arg)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The pinned CIDs of a type (<c>pin/ls</c>): <c>recursive</c> (the default), <c>direct</c>, <c>indirect</c> or <c>all</c>.</summary>
    public async Task<IReadOnlyList<Cid>> PinLsAsync(string type = "recursive", CancellationToken cancellationToken = default)
    {
        using JsonDocument doc = await PostJsonAsync("pin/ls", [("type", type)], cancellationToken).ConfigureAwait(false);
        var pins = new List<Cid>();
        if (doc.RootElement.TryGetProperty("Keys", out JsonElement keys) && keys.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty key in keys.EnumerateObject())
            {
                pins.Add(ParseCid(key.Name, "pin/ls"));
            }
        }
        return pins;
    }

    /// <summary>Resolves a path to <c>/ipfs/&lt;cid&gt;</c> of the node it names (<c>resolve</c>).</summary>
    public async Task<string> ResolveAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using JsonDocument doc = await PostJsonAsync("resolve", [("arg", path)], cancellationToken).ConfigureAwait(false);
        return GetString(doc.RootElement, "Path") ?? throw Protocol("resolve " + path, "no Path in the answer");
    }

    /// <summary>Walks a path through the DAG (<c>dag/resolve</c>): the last node reached and the path left inside it.</summary>
    public async Task<DagResolved> DagResolveAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string what = "dag/resolve " + path;
        using JsonDocument doc = await PostJsonAsync("dag/resolve", [("arg", path)], cancellationToken).ConfigureAwait(false);
        JsonElement root = doc.RootElement;
        // Both answer {"Cid":{"/":"<cid>"},"RemPath":"..."}.
        string? cid = root.TryGetProperty("Cid", out JsonElement link) && link.ValueKind == JsonValueKind.Object ? GetString(link, "/") : null;
        return new DagResolved(ParseCid(cid, what), GetString(root, "RemPath") ?? "");
    }

    // js-ipfs's pin/add and pin/rm take only a CID or /ipfs/<cid> ("Invalid request query input" for a path
    // under it); Kubo takes any path. A path with more in it is resolved to its CID first.
    private async Task<string> PinArgumentAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string trimmed = path.StartsWith("/ipfs/", StringComparison.Ordinal) ? path["/ipfs/".Length..] : path;
        trimmed = trimmed.TrimEnd('/');
        if (Cid.TryParse(trimmed, out Cid? cid))
        {
            return cid.ToString();
        }
        string resolved = await ResolveAsync(path, cancellationToken).ConfigureAwait(false);
        return resolved.StartsWith("/ipfs/", StringComparison.Ordinal) ? resolved["/ipfs/".Length..] : resolved;
    }

    private static IpfsEntryType EntryType(JsonElement link)
    {
        // UnixFS Data.DataType: Raw 0, Directory 1, File 2, Metadata 3, Symlink 4, HAMTShard 5 (a big directory).
        // Kubo and js-ipfs both send the number; a string is accepted for safety.
        if (!link.TryGetProperty("Type", out JsonElement type))
        {
            return IpfsEntryType.Other;
        }
        if (type.ValueKind == JsonValueKind.String)
        {
            return type.GetString() switch
            {
                "file" or "raw" => IpfsEntryType.File,
                "dir" or "directory" or "hamt-sharded-directory" => IpfsEntryType.Directory,
                _ => IpfsEntryType.Other,
            };
        }
        return type.TryGetInt32(out int t) ? t switch
        {
            0 or 2 => IpfsEntryType.File,
            1 or 5 => IpfsEntryType.Directory,
            _ => IpfsEntryType.Other,
        } : IpfsEntryType.Other;
    }

    private static SocketsHttpHandler CreateHandler(IpfsClientOptions options) => new()
    {
        ConnectTimeout = options.Timeout,
        // js-ipfs (hapi) closes an idle keep-alive connection after 5 s; reusing one it is closing fails the
        // request, so ours are dropped sooner. Kubo keeps them longer; the cost is one local reconnect.
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(4),
        AutomaticDecompression = DecompressionMethods.None,
        UseProxy = false,
    };

    private HttpRequestMessage Request(string command, IEnumerable<(string Name, string Value)> query, HttpContent? content = null)
    {
        var url = new StringBuilder(command);
        char sep = '?';
        foreach ((string name, string value) in query)
        {
            url.Append(sep).Append(name).Append('=').Append(Uri.EscapeDataString(value));
            sep = '&';
        }
        // Both nodes take only POST on the RPC API (js-ipfs answers 405 to GET).
        return new HttpRequestMessage(HttpMethod.Post, new Uri(_apiBase, url.ToString())) { Content = content };
    }

    // Go's time.ParseDuration syntax, which Kubo and js-ipfs (parse-duration) both read.
    private static string Duration(TimeSpan t) => Math.Max(1, (long)Math.Ceiling(t.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) + "ms";

    private async Task<JsonDocument> PostJsonAsync(
        string command, (string, string)[] query, CancellationToken cancellationToken, HttpContent? content = null, TimeSpan? limit = null)
    {
        TimeSpan timeout = limit ?? Options.Timeout;
        string what = query.Length > 0 && query[0].Item1 == "arg" ? command + " " + query[0].Item2 : command;
        using var call = new Call(this, what, CancellationTokenSource.CreateLinkedTokenSource(cancellationToken));
        call.Deadline(timeout);
        using HttpResponseMessage response = await call.SendAsync(
            Request(command, [.. query, ("timeout", Duration(timeout))], content), cancellationToken).ConfigureAwait(false);
        Stream body = await call.ReadBodyStreamAsync(response, cancellationToken).ConfigureAwait(false);
        byte[] bytes = await call.ReadAllAsync(body, MaxJsonAnswerBytes, cancellationToken).ConfigureAwait(false);
        CheckTrailer(response, what);
        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw Protocol(what, "the answer is not JSON: " + e.Message);
        }
    }

    private static async Task<byte[]> ReadAllAsync(Stream source, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            int n = await source.ReadAsync(buffer.GetMemory(64 << 10), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return buffer.WrittenSpan.ToArray();
            }
            buffer.Advance(n);
        }
    }

    // A node that fails after it began a 200 answer says so in the X-Stream-Error trailer (both nodes).
    internal void CheckTrailer(HttpResponseMessage response, string what)
    {
        if (response.TrailingHeaders.TryGetValues("X-Stream-Error", out IEnumerable<string>? errors)
            && errors.FirstOrDefault(e => !string.IsNullOrEmpty(e)) is { } error)
        {
            throw NodeError(what, error, null, (int)response.StatusCode);
        }
    }

    internal IpfsException NodeError(string what, string nodeMessage, int? code, int? status)
    {
        // js-ipfs answers its timeout= with "request timed out"; Kubo with "context deadline exceeded".
        bool timedOut = nodeMessage.Contains("request timed out", StringComparison.OrdinalIgnoreCase)
            || nodeMessage.Contains("context deadline exceeded", StringComparison.OrdinalIgnoreCase);
        return new IpfsException(
            timedOut ? IpfsErrorKind.Timeout : IpfsErrorKind.Node,
            ApiUrl,
            $"the IPFS node at {ApiUrl} failed {what}: {nodeMessage}",
            nodeMessage,
            code,
            status);
    }

    internal IpfsException Protocol(string what, string reason) =>
        new(IpfsErrorKind.Protocol, ApiUrl, $"the IPFS node at {ApiUrl} gave an unexpected answer to {what}: {reason}");

    internal IpfsException TooLarge(string what, long maxBytes, long? size) =>
        new(IpfsErrorKind.TooLarge, ApiUrl, size is { } s
            ? $"{what}: the content ({s} bytes) is larger than the limit of {maxBytes} bytes"
            : $"{what}: the content is larger than the limit of {maxBytes} bytes");

    internal Cid ParseCid(string? text, string what) =>
        Cid.TryParse(text, out Cid? cid, out string? reason) ? cid : throw Protocol(what, $"'{text}' is not a CID: {reason}");

    internal static string? GetString(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    // js-ipfs sends sizes as JSON numbers; Kubo sends some as strings (add's "Size":"14"). Both are read.
    internal static ulong GetUInt64(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out JsonElement value))
        {
            return 0;
        }
        return value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetUInt64(out ulong n) => n,
            JsonValueKind.String when ulong.TryParse(value.GetString(), out ulong s) => s,
            _ => 0,
        };
    }
}

/// <summary>The node's identity, from <c>id</c>.</summary>
public sealed record IpfsNodeInfo(string PeerId, string AgentVersion);
