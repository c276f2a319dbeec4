using Microsoft.Extensions.Logging;
using Wetware.Cells;

namespace Wetware.Host;

/// <summary>What every capability the host serves shares: the node identity, the epoch, the cell engine, limits.</summary>
internal sealed class HostContext(INodeIdentity identity, EpochSource epochs, CellEngine engine, ILogger logger)
{
    public INodeIdentity Identity => identity;

    public EpochSource Epochs => epochs;

    public CellEngine Engine => engine;

    public ILogger Logger => logger;

    /// <summary>Buffered bytes per child stream before the writer waits (shared/spec/interfaces.md).</summary>
    public long StreamBufferBytes { get; init; } = 1024 * 1024;

    /// <summary>How long graft waits for a signer's answer (shared/spec/identity.md).</summary>
    public TimeSpan SignerTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The libp2p node (shared/spec/network.md); null: a host without one (Host.addrs and peers are empty, connect and dial fail).</summary>
    public P2p.P2pNode? Node { get; init; }

    /// <summary>The IPFS node's HTTP RPC client (<c>--ipfs-url</c>); null: the ipfs capability says none is configured.</summary>
    public Ipfs.IpfsClient? Ipfs { get; init; }

    /// <summary>How long Host.dial waits for the remote node to answer with its export.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A child's memory limit.</summary>
    public long ChildMemoryLimitBytes { get; init; } = CellOptions.DefaultMemoryLimitBytes;
}

/// <summary>Who may graft onto a membrane (shared/spec/identity.md, "Graft authentication").</summary>
/// <param name="SignerRequired">A null signer fails with <c>graft auth failed: missing signer</c>.</param>
/// <param name="Accepts">Whether a public key (libp2p protobuf) may graft; null: the node's own key only.</param>
internal sealed record GraftPolicy(bool SignerRequired, Func<ReadOnlyMemory<byte>, bool>? Accepts = null)
{
    /// <summary>The boot membrane: holding it is pid0's authority; a signer, when given, must be the node's key.</summary>
    public static readonly GraftPolicy Boot = new(SignerRequired: false);
}
