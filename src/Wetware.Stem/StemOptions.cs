namespace Wetware.Stem;

/// <summary>Where the Atom contract lives and how the indexer follows it.</summary>
public sealed class StemOptions
{
    /// <summary>The chain node's HTTP JSON-RPC endpoint (reads, <c>eth_getLogs</c> backfill).</summary>
    public required Uri RpcUrl { get; init; }

    /// <summary>The chain node's WebSocket endpoint (<c>eth_subscribe</c> to new heads and HeadUpdated logs).</summary>
    public required Uri WebSocketUrl { get; init; }

    /// <summary>The Atom contract's address (0x-prefixed hex).</summary>
    public required string Contract { get; init; }

    /// <summary>A block is final when <c>tip - block &gt;= ConfirmationDepth</c>.</summary>
    public int ConfirmationDepth { get; init; } = 6;

    /// <summary>How long the chain node may be unreachable at start before <see cref="EpochIndexer.StartAsync"/> fails.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Deadline of one RPC call over HTTP or WebSocket.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First retry delay after a fault; it doubles up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest retry delay after repeated faults.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A safety net besides the WebSocket: the indexer checks the chain over HTTP this often even when no new head
    /// arrived (a silent socket). <see cref="Timeout.InfiniteTimeSpan"/> turns it off.
    /// </summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Most blocks one <c>eth_getLogs</c> asks for; longer ranges are read in pieces.</summary>
    public int MaxLogRange { get; init; } = 50_000;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(RpcUrl);
        ArgumentNullException.ThrowIfNull(WebSocketUrl);
        if (string.IsNullOrWhiteSpace(Contract) || !Contract.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || Contract.Length != 42)
        {
            throw new ArgumentException($"the contract address '{Contract}' is not 0x followed by 40 hex digits", nameof(Contract));
        }
        ArgumentOutOfRangeException.ThrowIfNegative(ConfirmationDepth);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxLogRange, 1);
    }
}

/// <summary>
/// An epoch as the chain gives it: the Atom head's <paramref name="Seq"/> and <paramref name="Head"/> bytes, and
/// <paramref name="AdoptedBlock"/>, the block at which it became final (the update's block plus the confirmation
/// depth; for the epoch read at start, the block <c>head()</c> was read at).
/// </summary>
public sealed record StemEpoch(ulong Seq, ReadOnlyMemory<byte> Head, ulong AdoptedBlock);

/// <summary>The chain could not be used at start (unreachable within the start timeout); the message names the URL.</summary>
public sealed class StemUnavailableException(string message, Exception? inner) : Exception(message, inner);
