using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Wetware.Identity;

namespace Wetware.P2p.Tests;

/// <summary>Two of our nodes over loopback: connect, identify, ping, streams both ways, limits, release.</summary>
public class NodeTests
{
    [Fact]
    public async Task DialThenPingAndIdentifyBothWays()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New();
        PeerConnection connection = await client.DialAsync(address);
        Assert.Equal(server.PeerId, connection.RemotePeer);
        Assert.Equal(ConnectionDirection.Outbound, connection.Direction);
        TimeSpan rtt = await connection.PingAsync();
        Assert.True(rtt > TimeSpan.Zero);

        IdentifyInfo info = await connection.Identified.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(server.PublicKey, info.PublicKey);
        Assert.Equal("ipfs/0.1.0", info.ProtocolVersion);
        Assert.StartsWith("wetware-dotnet/", info.AgentVersion);
        Assert.Contains("/ipfs/ping/1.0.0", info.Protocols);
        Assert.Contains("/ipfs/id/1.0.0", info.Protocols);
        Assert.Contains(address.WithoutPeerId(), info.ListenAddresses);
        Assert.Equal(connection.LocalAddress, info.ObservedAddress);

        await Nodes.EventuallyAsync(() => server.GetConnection(client.PeerId)?.RemoteIdentify is not null, "the server to identify the client");
        IdentifyInfo back = server.GetConnection(client.PeerId)!.RemoteIdentify!;
        Assert.Equal(client.PublicKey, back.PublicKey);
        Assert.Empty(back.ListenAddresses);
        Assert.Equal(connection.LocalAddress, server.GetConnection(client.PeerId)!.RemoteAddress);
    }

    [Fact]
    public async Task CustomProtocolEchoesAndHalfCloses()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        server.SetStreamHandler(Echo.ProtocolId, Echo.ServeAsync);
        await using P2pNode client = Nodes.New();
        await client.DialAsync(address);
        await using P2pStream stream = await client.OpenStreamAsync(server.PeerId, Echo.ProtocolId);
        Assert.Equal(Echo.ProtocolId, stream.Protocol);
        await Echo.RoundTripAsync(stream, 3 * 1024 * 1024 + 17);
    }

    [Fact]
    public async Task StreamsOpenBothWaysOnOneConnection()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New();
        client.SetStreamHandler(Echo.ProtocolId, Echo.ServeAsync);
        await client.DialAsync(address);
        await Nodes.EventuallyAsync(() => server.GetConnection(client.PeerId) is not null, "the inbound connection");
        await using P2pStream stream = await server.OpenStreamAsync(client.PeerId, Echo.ProtocolId);
        Assert.False(stream.IsInbound);
        await Echo.RoundTripAsync(stream, 100_000);
        Assert.Single(client.Connections);
        Assert.Single(server.Connections);
    }

    [Fact]
    public async Task UnknownProtocolIsRefusedWithNa()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        var e = await Assert.ThrowsAsync<P2pException>(() => c.OpenStreamAsync("/no/such/1.0.0"));
        Assert.Equal(P2pError.ProtocolNotSupported, e.Error);
        P2pStream s = await c.OpenStreamAsync(["/no/such/1.0.0", "/ipfs/ping/1.0.0"]);
        Assert.Equal("/ipfs/ping/1.0.0", s.Protocol);
        await s.DisposeAsync();
        Assert.Equal(server.PeerId, c.RemotePeer);
    }

    [Fact]
    public async Task DialingAKnownPeerReusesItsConnection()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New();
        Task<PeerConnection>[] dials = [.. Enumerable.Range(0, 5).Select(_ => client.DialAsync(address))];
        PeerConnection[] connections = await Task.WhenAll(dials);
        Assert.All(connections, c => Assert.Same(connections[0], c));
        Assert.Same(connections[0], await client.ConnectAsync(server.PeerId, [address.WithoutPeerId()]));
        Assert.Single(client.Connections);
    }

    [Fact]
    public async Task WrongPeerIdIsRejected()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New();
        using NodeKey other = NodeKey.Generate();
        var e = await Assert.ThrowsAsync<P2pException>(() => client.DialAsync(address.WithPeerId(other.PeerId)));
        Assert.Equal(P2pError.PeerIdMismatch, e.Error);
        Assert.Contains(other.PeerId.ToString(), e.Reason);
        Assert.Contains(server.PeerId.ToString(), e.Reason);
        await Nodes.EventuallyAsync(() => client.Counts is { Connections: 0, Sockets: 0, Handshakes: 0 }, "the client to release the failed dial");
    }

    [Fact]
    public async Task Ed25519PeersConnect()
    {
        var options = new P2pNodeOptions();
        await using P2pNode server = Nodes.Ed25519(options);
        Multiaddr address = (await server.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"))).WithPeerId(server.PeerId);
        Assert.StartsWith("12D3KooW", server.PeerId.ToString());
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        Assert.Equal(KeyType.Ed25519, c.RemotePublicKey.Type);
        await c.PingAsync();
    }

    [Fact]
    public async Task Ipv6ListenAndDial()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync(listen: "/ip6/::1/tcp/0");
        await using var _ = server;
        Assert.StartsWith("/ip6/::1/tcp/", address.ToString());
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        await c.PingAsync();
    }

    [Fact]
    public async Task DnsAddressesResolve()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New();
        string port = address.Components[1].Value!;
        PeerConnection c = await client.DialAsync(Multiaddr.Parse($"/dns4/localhost/tcp/{port}/p2p/{server.PeerId}"));
        await c.PingAsync();
    }

    [Fact]
    public async Task HundredConcurrentStreams()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        server.SetStreamHandler(Echo.ProtocolId, Echo.ServeAsync);
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            await using P2pStream s = await c.OpenStreamAsync(Echo.ProtocolId);
            await Echo.RoundTripAsync(s, 50_000 + i, seed: i);
        }));
        await Nodes.EventuallyAsync(() => client.Counts.Streams == 0 && server.Counts.Streams == 0, "every stream to be released");
    }

    [Fact]
    public async Task IdentifyPushTellsConnectedPeersAboutNewProtocols()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        await c.Identified;
        Assert.DoesNotContain("/ww/0.1.0", c.RemoteIdentify!.Protocols);
        server.SetStreamHandler("/ww/0.1.0", (s, ct) => Task.CompletedTask);
        await Nodes.EventuallyAsync(() => c.RemoteIdentify!.Protocols.Contains("/ww/0.1.0"), "identify push");
        Assert.True(server.RemoveStreamHandler("/ww/0.1.0"));
        await Nodes.EventuallyAsync(() => !c.RemoteIdentify!.Protocols.Contains("/ww/0.1.0"), "identify push of the removal");
    }

    [Fact]
    public async Task IdleConnectionsCloseAndKeepAliveOnesStay()
    {
        var options = new P2pNodeOptions { IdleTimeout = TimeSpan.FromMilliseconds(600), MaintenanceInterval = TimeSpan.FromMilliseconds(50) };
        // The server keeps the default (60 s): what is tested is each dialer's own idle close.
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New(options);
        await using P2pNode pinned = Nodes.New(options);
        PeerConnection idle = await client.DialAsync(address);
        PeerConnection kept = await pinned.DialAsync(address);
        kept.KeepAlive = true;
        await idle.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("idle", idle.CloseReason);
        Assert.False(kept.IsClosed);
        await kept.PingAsync();
        Assert.Equal(0, client.Counts.Sockets);
    }

    [Fact]
    public async Task ClosingAConnectionEndsItsStreamsWithAReason()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        var started = new TaskCompletionSource();
        server.SetStreamHandler("/hang/1.0.0", async (s, ct) =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, ct);
        });
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        P2pStream stream = await c.OpenStreamAsync("/hang/1.0.0");
        await started.Task;
        await c.CloseAsync();
        var e = await Assert.ThrowsAsync<P2pException>(async () => await stream.Input.ReadAsync());
        Assert.Equal(P2pError.Closed, e.Error);
        await stream.DisposeAsync();
        await Nodes.EventuallyAsync(() => server.Counts is { Connections: 0, Streams: 0, Sockets: 0 }, "the server to release the connection");
        Assert.Equal(0, client.Counts.Sockets);
    }

    [Fact]
    public async Task ResetReachesThePeer()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        var outcome = new TaskCompletionSource<Exception?>();
        server.SetStreamHandler("/reset/1.0.0", async (s, ct) =>
        {
            try
            {
                while (true)
                {
                    ReadResult r = await s.Input.ReadAsync(ct);
                    s.Input.AdvanceTo(r.Buffer.End);
                    if (r.IsCompleted)
                    {
                        outcome.SetResult(null);
                        return;
                    }
                }
            }
            catch (Exception e)
            {
                outcome.SetResult(e);
            }
        });
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        P2pStream stream = await c.OpenStreamAsync("/reset/1.0.0");
        await stream.Output.WriteAsync(Encoding.ASCII.GetBytes("hello"));
        stream.Reset();
        Exception? seen = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var p = Assert.IsType<P2pException>(seen);
        Assert.Contains("reset", p.Reason);
        await c.PingAsync();
        await Nodes.EventuallyAsync(() => client.Counts.Streams == 0 && server.Counts.Streams == 0, "the reset stream to be released");
    }

    [Fact]
    public async Task DisposingTheNodeReleasesEverything()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        P2pNode client = Nodes.New();
        server.SetStreamHandler(Echo.ProtocolId, Echo.ServeAsync);
        PeerConnection c = await client.DialAsync(address);
        P2pStream open = await c.OpenStreamAsync(Echo.ProtocolId);
        await client.DisposeAsync();
        await server.DisposeAsync();
        Assert.Equal(new P2pCounts(0, 0, 0, 0, 0, 0, 0), client.Counts);
        Assert.Equal(new P2pCounts(0, 0, 0, 0, 0, 0, 0), server.Counts);
        await Assert.ThrowsAsync<P2pException>(() => client.DialAsync(address));
        GC.KeepAlive(open);
    }
}
