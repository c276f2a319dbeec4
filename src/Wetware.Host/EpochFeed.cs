namespace Wetware.Host;

/// <summary>
/// The chain side of <c>ww run --stem</c> as the host sees it (shared/spec/stem.md, "The epoch pipeline"): the
/// epoch in force at start, then each later final epoch. The <c>ww</c> command adapts Wetware.Stem's indexer to it;
/// tests may feed epochs directly.
/// </summary>
public interface IEpochFeed
{
    /// <summary>
    /// The epoch in force at start (the Atom head at <c>tip - depth</c>). Throws <see cref="HostException"/> naming
    /// what failed when the chain cannot be reached in time.
    /// </summary>
    Task<EpochInfo> StartAsync(CancellationToken cancellationToken);

    /// <summary>The next final epoch (seq strictly increasing); throws <see cref="OperationCanceledException"/> when canceled, and ends with <see cref="System.Threading.Channels.ChannelClosedException"/> when the feed is closed.</summary>
    ValueTask<EpochInfo> ReadAsync(CancellationToken cancellationToken);

    /// <summary>A final epoch that is already waiting, without waiting for one.</summary>
    bool TryRead(out EpochInfo epoch);
}
