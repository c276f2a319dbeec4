namespace Wetware.Ipfs;

/// <summary>Where the node is and how long to wait for it.</summary>
public sealed record IpfsClientOptions
{
    /// <summary>The default node URL, the one Kubo listens on.</summary>
    public static readonly Uri DefaultApiUrl = new("http://127.0.0.1:5001");

    /// <summary>The node's HTTP RPC API, without <c>/api/v0</c>.</summary>
    public Uri ApiUrl { get; init; } = DefaultApiUrl;

    /// <summary>
    /// The limit of one call: a call with a small answer must be done within it; a streaming call (<c>cat</c>,
    /// <c>add</c>) must start answering within it and may then wait at most this long for each piece of its body.
    /// It is also sent as the node's own <c>timeout=</c> on calls with small answers, so the node gives up too.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The node's own <c>timeout=</c> on streaming calls (<c>cat</c>), which bounds the whole answer: long enough
    /// for large content, while <see cref="Timeout"/> still catches a stall at any point.
    /// </summary>
    public TimeSpan StreamTimeout { get; init; } = TimeSpan.FromMinutes(30);
}
