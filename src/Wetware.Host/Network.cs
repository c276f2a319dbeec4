using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Wetware.Capnp.Rpc;
using Wetware.Identity;
using Wetware.P2p;

namespace Wetware.Host;

/// <summary>
/// The capability export protocol (shared/spec/network.md, "Capability export"): one <c>/ww/0.1.0</c> stream is one
/// two-party Cap'n Proto RPC connection whose bootstrap is pid0's export, proxied by the host.
/// </summary>
internal sealed class CapabilityExport(Func<Task<Capability?>> export, ILogger logger)
{
    public const string ProtocolId = "/ww/0.1.0";

    /// <summary>The bootstrap answer a remote gets when pid0 exports nothing.</summary>
    public const string NothingExported = "pid0 exports no capability";

    /// <summary>How long a stream waits for pid0 to say what it exports.</summary>
    public TimeSpan ExportTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a refused stream stays open for the remote to read the reason before it is closed.</summary>
    public TimeSpan RefusalLinger { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The stream handler: serves pid0's export on the stream until either side ends it or the connection closes.</summary>
    public async Task ServeAsync(P2pStream stream, CancellationToken cancellationToken)
    {
        Capability? exported = null;
        string? refusal = null;
        try
        {
            // Shared with every stream and Process.bootstrap: the connection takes its own reference, never dispose it here.
            exported = await export().WaitAsync(ExportTimeout, cancellationToken).ConfigureAwait(false);
            refusal = exported is null ? NothingExported : null;
        }
        catch (TimeoutException)
        {
            refusal = $"pid0 did not say what it exports within {ExportTimeout.TotalSeconds:0.#} s";
        }
        // Calls that arrive over the stream name its peer (CallContext.Caller): a Signer asked through it signs for that peer.
        var options = refusal is null
            ? new RpcConnectionOptions { Peer = stream.RemotePeer }
            : new RpcConnectionOptions { Peer = stream.RemotePeer, NoBootstrapReason = refusal };
        var rpc = new RpcConnection(stream, exported, options);
        rpc.Start();
        try
        {
            if (refusal is null)
            {
                logger.LogDebug("{Peer} opened a capability stream", stream.RemotePeer);
                await rpc.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                logger.LogInformation("capability stream from {Peer} refused: {Reason}", stream.RemotePeer, refusal);
                await rpc.Completion.WaitAsync(RefusalLinger, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // The refusal was delivered (or nobody read it), or the connection is closing: the stream ends either way.
        }
        finally
        {
            await rpc.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>What <c>Host.addrs</c>, <c>peers</c>, <c>connect</c> and <c>dial</c> do with the node (shared/spec/interfaces.md).</summary>
internal static class NodeCalls
{
    public static PeerId ParsePeer(string method, ReadOnlySpan<byte> bytes)
    {
        try
        {
            return PeerId.FromBytes(bytes);
        }
        catch (IdentityFormatException e)
        {
            throw new RpcException(RpcErrorType.Failed, $"host.{method}: peerId: {e.Message}");
        }
    }

    public static List<Multiaddr> ParseAddrs(string method, Capnp.DataList addrs)
    {
        var parsed = new List<Multiaddr>(addrs.Count);
        for (int i = 0; i < addrs.Count; i++)
        {
            try
            {
                parsed.Add(Multiaddr.FromBytes(addrs[i].Span));
            }
            catch (MultiaddrFormatException e)
            {
                throw new RpcException(RpcErrorType.Failed, $"host.{method}: addrs[{i}] is not a binary multiaddr: {e.Reason}");
            }
        }
        return parsed;
    }

    /// <summary>The open connection to <paramref name="peer"/>, or a new one over <paramref name="addrs"/>; marked as a guest's, so it is not closed when idle.</summary>
    public static async Task<PeerConnection> ConnectAsync(P2pNode node, string method, PeerId peer, IReadOnlyList<Multiaddr> addrs, CancellationToken cancellationToken)
    {
        if (peer == node.PeerId)
        {
            throw new RpcException(RpcErrorType.Failed, $"host.{method}: {peer} is this node");
        }
        PeerConnection connection;
        if (addrs.Count == 0)
        {
            connection = node.GetConnection(peer)
                ?? throw new RpcException(RpcErrorType.Failed, $"host.{method}: not connected to {peer} and no addresses given");
        }
        else
        {
            try
            {
                connection = await node.ConnectAsync(peer, addrs, cancellationToken).ConfigureAwait(false);
            }
            catch (P2pException e)
            {
                throw new RpcException(e.Error == P2pError.Closed ? RpcErrorType.Disconnected : RpcErrorType.Failed, $"host.{method}: {e.Reason}");
            }
        }
        connection.KeepAlive = true;
        return connection;
    }

    /// <summary>
    /// Opens a <c>/ww/0.1.0</c> stream on <paramref name="connection"/> and returns the remote's export. The stream and
    /// its RPC connection live until the last reference to the returned capability is dropped, or the remote ends them.
    /// </summary>
    public static async Task<Capability> DialAsync(PeerConnection connection, TimeSpan timeout, ILogger logger, CancellationToken cancellationToken)
    {
        PeerId peer = connection.RemotePeer;
        P2pStream stream;
        try
        {
            stream = await connection.OpenStreamAsync(CapabilityExport.ProtocolId, cancellationToken).ConfigureAwait(false);
        }
        catch (P2pException e) when (e.Error == P2pError.ProtocolNotSupported)
        {
            throw new RpcException(RpcErrorType.Failed, $"host.dial: {peer} does not offer {CapabilityExport.ProtocolId} (not a ww node?)");
        }
        catch (P2pException e)
        {
            throw new RpcException(e.Error == P2pError.Closed ? RpcErrorType.Disconnected : RpcErrorType.Failed, $"host.dial: {e.Reason}");
        }
        var rpc = new RpcConnection(stream, null, new RpcConnectionOptions { Peer = stream.RemotePeer });
        var link = new DialedLink(rpc, stream, peer, logger);
        rpc.Start();
        Capability remote;
        try
        {
            remote = await rpc.BootstrapAsync(cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await link.CloseAsync().ConfigureAwait(false);
            throw e switch
            {
                RpcException r => new RpcException(r.Type, $"host.dial: {peer}: {r.Reason}"),
                TimeoutException => new RpcException(RpcErrorType.Failed, $"host.dial: {peer} did not answer for its export within {timeout.TotalSeconds:0.#} s"),
                _ => e,
            };
        }
        // The remote ended the connection (or the node went): release the stream at once, not at the guest's release.
        _ = rpc.Completion.ContinueWith(_ => link.Close(), TaskScheduler.Default);
        using (remote)
        {
            return Capability.OnRelease(remote, link.Close);
        }
    }

    public static int PortOf(Multiaddr address)
    {
        foreach (MultiaddrComponent c in address.Components)
        {
            if (c.Protocol == "tcp" && c.Value is not null)
            {
                return int.Parse(c.Value, CultureInfo.InvariantCulture);
            }
        }
        throw new ArgumentException($"{address} has no /tcp part", nameof(address));
    }

    public static bool IsAddressInUse(P2pException e) => e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse };
}

/// <summary>A dialed capability stream: its RPC connection and the stream under it, closed once.</summary>
internal sealed class DialedLink(RpcConnection rpc, P2pStream stream, PeerId peer, ILogger logger)
{
    private int _closed;

    public void Close() => _ = CloseAsync();

    public async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        try
        {
            await rpc.DisposeAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            logger.LogDebug("capability stream to {Peer} closed", peer);
        }
        catch (Exception e)
        {
            logger.LogDebug("closing the capability stream to {Peer}: {Reason}", peer, e.Message);
        }
    }
}

/// <summary>Hands one logger to a library that asks a factory for its own (the P2P node logs as pid0's host).</summary>
internal sealed class OneLoggerFactory(ILogger logger) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => logger;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }
}
