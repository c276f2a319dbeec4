namespace Wetware.Host;

/// <summary>What <see cref="Pid0"/> needs: the layers, the limits, and the host's standard streams.</summary>
public sealed record HostOptions
{
    /// <summary>The LAYER arguments, lowest first (shared/spec/cli.md). Empty: the bundled standard image.</summary>
    public IReadOnlyList<string> Layers { get; init; } = [];

    /// <summary>The node key file (<c>--identity</c>, else <c>WW_IDENTITY</c>); null: <c>/etc/identity</c> of a local layer, else a new ephemeral key.</summary>
    public string? IdentityPath { get; init; }

    /// <summary>The node identity to use as is (tests); when set, <see cref="IdentityPath"/> and the layers are not consulted.</summary>
    public INodeIdentity? Identity { get; init; }

    /// <summary>The epoch source the Stem pipeline drives; null: epoch 0 for the whole run.</summary>
    public EpochSource? Epochs { get; init; }

    /// <summary>
    /// <c>--stem</c>: the Atom contract's epochs (shared/spec/stem.md). Its head is the base layer under
    /// <see cref="Layers"/>, and each later final epoch restarts pid0 on its image. Null: no epochs, and no layers
    /// means the standard image.
    /// </summary>
    public IEpochFeed? Stem { get; init; }

    /// <summary>How long the first epoch's head may take to become usable (fetched from IPFS) before <c>ww run</c> fails.</summary>
    public TimeSpan StemStartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait between tries of an epoch's head that cannot be fetched yet (the wait doubles from 200 ms).</summary>
    public TimeSpan StemRetryLimit { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The directory of the bundled standard image (<c>@std</c>), or null if this build has none.</summary>
    public string? StdImage { get; init; }

    /// <summary>The libp2p node's TCP listen port, IPv4 and IPv6 (shared/spec/network.md); 0 picks a free port. <c>ww run</c>'s default is 2025.</summary>
    public int ListenPort { get; init; }

    /// <summary>The IPFS node's HTTP RPC API (<c>--ipfs-url</c>, shared/spec/cli.md); null: <c>http://127.0.0.1:5001</c>.</summary>
    public Uri? IpfsUrl { get; init; }

    /// <summary>The limit of one call to the IPFS node (listing a layer, fetching a file's first bytes); null: the client's default (30 s).</summary>
    public TimeSpan? IpfsTimeout { get; init; }

    /// <summary>pid0's linear memory cap, in MiB.</summary>
    public int MemoryLimitMiB { get; init; } = 512;

    /// <summary>Where compiled modules are cached; null: the user's cache (<c>$XDG_CACHE_HOME/ww</c> or <c>~/.cache/ww</c>).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Keep DWARF so guest backtraces show source lines.</summary>
    public bool WasmDebug { get; init; }

    /// <summary>The host's stdin, relayed to pid0.</summary>
    public Stream Stdin { get; init; } = Stream.Null;

    /// <summary>The host's stdout and stderr, which pid0 writes to.</summary>
    public Stream Stdout { get; init; } = Stream.Null;

    public Stream Stderr { get; init; } = Stream.Null;

    /// <summary>The host's stdin is a terminal: pid0 gets <c>WW_TTY=1</c> and sees terminals on fds 0 to 2.</summary>
    public bool Terminal { get; init; }

    /// <summary>How long pid0 has to exit after its stdin is closed on a stop request before it is killed.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>A failure of the host (not of the guest): the message is what <c>ww</c> prints after <c>error: </c>.</summary>
public sealed class HostException(string message, Exception? inner = null) : Exception(message, inner);
