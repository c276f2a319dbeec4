using Microsoft.Extensions.Logging.Abstractions;
using Wetware.Capnp.Rpc;
using Wetware.Cells;

namespace Wetware.Host;

/// <summary>Entry points for bench/Wetware.Host.Bench: a host context without a node key and its boot membrane.</summary>
public static class HostBench
{
    public static object Context(CellEngine engine, EpochSource epochs) => new HostContext(NoIdentity.Instance, epochs, engine, NullLogger.Instance);

    /// <summary>The same, whose sessions' ipfs capability uses <paramref name="ipfs"/>.</summary>
    public static object Context(CellEngine engine, EpochSource epochs, Ipfs.IpfsClient ipfs) =>
        new HostContext(NoIdentity.Instance, epochs, engine, NullLogger.Instance) { Ipfs = ipfs };

    public static Capability Membrane(object context) => Capability.FromServer(new MembraneServer((HostContext)context, GraftPolicy.Boot, null));
}
