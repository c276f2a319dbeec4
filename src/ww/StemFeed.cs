using Wetware.Host;
using Wetware.Stem;

namespace Wetware.Cli;

/// <summary><c>ww run --stem</c>: Wetware.Stem's indexer as the host's epoch feed.</summary>
internal sealed class StemFeed(EpochIndexer indexer) : IEpochFeed, IAsyncDisposable
{
    public async Task<EpochInfo> StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            return ToHost(await indexer.StartAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (StemUnavailableException e)
        {
            throw new HostException(e.Message, e);
        }
    }

    public async ValueTask<EpochInfo> ReadAsync(CancellationToken cancellationToken) =>
        ToHost(await indexer.Adopted.ReadAsync(cancellationToken).ConfigureAwait(false));

    public bool TryRead(out EpochInfo epoch)
    {
        if (indexer.Adopted.TryRead(out StemEpoch? e))
        {
            epoch = ToHost(e);
            return true;
        }
        epoch = EpochInfo.Initial;
        return false;
    }

    public ValueTask DisposeAsync() => indexer.DisposeAsync();

    private static EpochInfo ToHost(StemEpoch e) => new(e.Seq, e.Head, e.AdoptedBlock);
}
