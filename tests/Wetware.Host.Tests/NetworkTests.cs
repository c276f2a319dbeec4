using Microsoft.Extensions.Logging.Abstractions;
using Wetware.Capnp.Rpc;
using Wetware.Host.Tests.Interop;
using Wetware.Identity;
using Wetware.P2p;
using Wetware.Schema;

namespace Wetware.Host.Tests;

/// <summary>
/// Two hosts in one process on loopback (shared/spec/network.md): each has a libp2p node and a C# "pid0" that
/// drives its Host capability through the Membrane; one exports an object on /ww/0.1.0, the other dials it.
/// </summary>
public sealed class NetworkTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    /// <summary>A node on 127.0.0.1 whose host serves pid0's export from <paramref name="export"/>; null: no /ww handler at all.</summary>
    private async Task<NetHost> StartAsync(Func<Task<Capability?>>? export)
    {
        var key = NodeKey.Generate();
        var node = new P2pNode(key);
        await node.ListenAsync(Multiaddr.Parse("/ip4/127.0.0.1/tcp/0"));
        if (export is not null)
        {
            node.SetStreamHandler(CapabilityExport.ProtocolId, new CapabilityExport(export, NullLogger.Instance) { RefusalLinger = TimeSpan.FromSeconds(2) }.ServeAsync);
        }
        var harness = new HostHarness(new NodeKeyIdentity(key), node: node);
        var host = new NetHost(key, node, harness, Session.GraftAsync(await harness.MembraneAsync()));
        _owned.Add(host);
        return host;
    }

    private Task<NetHost> StartExportingAsync(out InteropEcho server)
    {
        var s = new InteropEcho();
        server = s;
        Capability exported = Capability.FromServer(s);
        return StartAsync(() => Task.FromResult<Capability?>(exported));
    }

    [Fact]
    public async Task DialCallsTheRemoteExport()
    {
        NetHost a = await StartExportingAsync(out InteropEcho server);
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        using Echo.Client echo = await s.Host.DialEchoAsync(a.Node);
        using (Response<Echo.EchoResults.Reader> r = await echo.EchoAsync("across").AsTask().WaitAsync(Timeout))
        {
            Assert.Equal("across", r.Results.Text.ToString());
        }
        var e = await Assert.ThrowsAsync<RpcException>(async () => await echo.FailAsync("on purpose").AsTask().WaitAsync(Timeout));
        Assert.Equal("requested failure: on purpose", e.Reason);
        Assert.Equal(2, server.Calls);
    }

    [Fact]
    public async Task CallbacksAndHandedBackCapabilitiesCrossTheNetwork()
    {
        NetHost a = await StartExportingAsync(out _);
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        using Echo.Client echo = await s.Host.DialEchoAsync(a.Node);
        var local = new InteropEcho();
        using (var callback = Echo.Client.FromServer(local))
        using (Response<Echo.CallBackResults.Reader> r = await echo.CallBackAsync(callback, "ring").AsTask().WaitAsync(Timeout))
        {
            Assert.Equal("called back: ring", r.Results.Text.ToString());
        }
        Assert.Equal(1, local.Calls);
        using var counter = Counter.Client.FromServer(new TestCounter(9));
        using Response<Echo.IdentityResults.Reader> back = await echo.IdentityAsync(counter).AsTask().WaitAsync(Timeout);
        using Counter.Client? same = back.GetClient<Counter.Client>(back.Results.Counter);
        Assert.NotNull(same);
        using Response<Counter.IncrementResults.Reader> inc = await same.IncrementAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(10u, inc.Results.Value);
    }

    /// <summary>
    /// pid0's export that challenges a signer as a guarded Membrane does: sign(nonce, seq), then the signature
    /// must verify for this node as the audience (shared/spec/identity.md).
    /// </summary>
    private sealed class Challenger(NodeKey self) : Membrane.Server
    {
        public override async ValueTask GraftAsync(Membrane.GraftParams.Reader @params, Membrane.GraftResults.Builder results, CallContext context)
        {
            using Signer.Client signer = context.GetParamClient<Signer.Client>(@params.Signer) ?? throw new RpcException(RpcErrorType.Failed, "graft auth failed: missing signer");
            using Response<Signer.SignResults.Reader> signed = await signer.SignAsync(77, 0).AsTask().WaitAsync(Timeout);
            byte[] payload = MembraneServer.GraftPayload(77, 0, self.PeerId.Bytes.Span);
            if (!new NodeKeyIdentity(self).Verify(signed.Results.PublicKey.Span, MembraneServer.GraftDomain, MembraneServer.GraftPayloadType, payload, signed.Results.Sig.Span))
            {
                throw new RpcException(RpcErrorType.Failed, "graft auth failed: signature not for this node");
            }
        }
    }

    /// <summary>pid0's export on a third node that passes grafts on to another node's export.</summary>
    private sealed class Relay(Func<Task<Membrane.Client>> target) : Membrane.Server
    {
        public override async ValueTask GraftAsync(Membrane.GraftParams.Reader @params, Membrane.GraftResults.Builder results, CallContext context)
        {
            using Signer.Client? signer = context.GetParamClient<Signer.Client>(@params.Signer);
            using Membrane.Client membrane = await target();
            using Response<Membrane.GraftResults.Reader> r = await membrane.GraftAsync(signer).AsTask().WaitAsync(Timeout);
        }
    }

    private static async Task<Membrane.Client> DialMembraneAsync(Schema.Host.Client host, P2pNode node)
    {
        using Echo.Client dialed = await host.DialEchoAsync(node);
        return new Membrane.Client(dialed.Capability.Clone());
    }

    [Fact]
    public async Task ASignerAskedOverTheNetworkSignsForTheAskingNodeSoARelayedChallengeFails()
    {
        // A's export knows A's key; Z's export dials A through Z's own session.
        var aHost = new TaskCompletionSource<NetHost>(TaskCreationOptions.RunContinuationsAsynchronously);
        var zHost = new TaskCompletionSource<NetHost>(TaskCreationOptions.RunContinuationsAsynchronously);
        NetHost a = await StartAsync(async () => Capability.FromServer(new Challenger((await aHost.Task).Key)));
        aHost.SetResult(a);
        NetHost z = await StartAsync(() => Task.FromResult<Capability?>(Capability.FromServer(new Relay(async () =>
        {
            NetHost self = await zHost.Task;
            return await DialMembraneAsync((await self.Session).Host, a.Node);
        }))));
        zHost.SetResult(z);
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        using Response<Schema.Identity.SignerResults.Reader> signerResponse = await s.Identity.SignerAsync(MembraneServer.GraftDomain).AsTask().WaitAsync(Timeout);
        using Signer.Client signer = signerResponse.GetClient<Signer.Client>(signerResponse.Results.Signer)!;

        // Direct: B's signer, asked by A over the B-A connection, signs for A.
        using (Membrane.Client direct = await DialMembraneAsync(s.Host, a.Node))
        using (await direct.GraftAsync(signer).AsTask().WaitAsync(Timeout))
        {
        }

        // Relayed: A's challenge reaches B's signer through Z, so B signs for Z, and A refuses it.
        using Membrane.Client relayed = await DialMembraneAsync(s.Host, z.Node);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await relayed.GraftAsync(signer).AsTask().WaitAsync(Timeout));
        Assert.Equal("graft auth failed: signature not for this node", e.Reason);
    }

    [Fact]
    public async Task PipelinedCallsCrossTheNetwork()
    {
        NetHost a = await StartExportingAsync(out _);
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        // dial -> cap -> makeCounter -> counter -> increment, all sent before any answer is awaited.
        var dial = s.Host.NewDial();
        dial.Params.SetPeerId(a.Node.PeerId.Bytes.Span);
        Capnp.DataListBuilder addrs = dial.Params.InitAddrs(1);
        addrs.Set(0, a.Node.ListenAddresses[0].Bytes.Span);
        RpcCall<Schema.Host.DialResults.Reader, Schema.Host.DialResults.Pipeline> dialed = dial.Send();
        using var echo = new Echo.Client(dialed.Pipeline.GetCap());
        using Counter.Client counter = echo.MakeCounterAsync(41).Pipeline.GetCounter();
        Task<Response<Counter.IncrementResults.Reader>> first = counter.IncrementAsync().AsTask();
        Task<Response<Counter.IncrementResults.Reader>> second = counter.IncrementAsync().AsTask();
        using (Response<Counter.IncrementResults.Reader> r = await first.WaitAsync(Timeout))
        {
            Assert.Equal(42u, r.Results.Value);
        }
        using (Response<Counter.IncrementResults.Reader> r = await second.WaitAsync(Timeout))
        {
            Assert.Equal(43u, r.Results.Value);
        }
        using Response<Schema.Host.DialResults.Reader> done = await dialed.AsTask().WaitAsync(Timeout);
    }

    [Fact]
    public async Task AddrsPeersAndConnectReportTheNode()
    {
        NetHost a = await StartAsync(null);
        NetHost b = await StartAsync(null);
        Session sa = await a.Session, sb = await b.Session;
        List<Multiaddr> addrs = await sa.Host.AddrsOfAsync();
        Assert.Contains(addrs, m => m.ToString() == a.Node.ListenAddresses[0].ToString());
        Assert.Empty(await sb.Host.PeersOfAsync());

        var connect = sb.Host.NewConnect();
        connect.Params.SetPeerId(a.Node.PeerId.Bytes.Span);
        Capnp.DataListBuilder list = connect.Params.InitAddrs(addrs.Count);
        for (int i = 0; i < addrs.Count; i++)
        {
            list.Set(i, addrs[i].Bytes.Span);
        }
        using (await connect.Send().AsTask().WaitAsync(Timeout))
        {
        }
        var peers = await sb.Host.PeersOfAsync();
        var (peer, peerAddrs) = Assert.Single(peers);
        Assert.Equal(a.Node.PeerId, peer);
        Assert.Contains(peerAddrs, m => m.ToString() == a.Node.ListenAddresses[0].ToString());
        Assert.True(b.Node.GetConnection(a.Node.PeerId)!.KeepAlive); // a guest asked for it: the idle closer leaves it
        for (int i = 0; i < 100 && (await sa.Host.PeersOfAsync()).Count == 0; i++)
        {
            await Task.Delay(20);
        }
        Assert.Equal(b.Node.PeerId, Assert.Single(await sa.Host.PeersOfAsync()).Peer);
    }

    [Fact]
    public async Task DialToANodeWhosePid0ExportsNothingFailsWithTheReasonAndTheStreamCloses()
    {
        NetHost a = await StartAsync(() => Task.FromResult<Capability?>(null));
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        var e = await Assert.ThrowsAsync<RpcException>(() => s.Host.DialEchoAsync(a.Node));
        Assert.Equal(RpcErrorType.Failed, e.Type);
        Assert.Contains(a.Node.PeerId.ToString(), e.Reason);
        Assert.Contains(CapabilityExport.NothingExported, e.Reason);
        await WaitForNoStreamsAsync(b.Node, a.Node.PeerId);
    }

    [Fact]
    public async Task DialToANodeWithoutTheProtocolSaysSo()
    {
        NetHost a = await StartAsync(null);
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        var e = await Assert.ThrowsAsync<RpcException>(() => s.Host.DialEchoAsync(a.Node));
        Assert.Contains("does not offer /ww/0.1.0", e.Reason);
    }

    [Fact]
    public async Task DialFailuresNameTheCause()
    {
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        var bad = s.Host.NewDial();
        bad.Params.SetPeerId([1, 2, 3]);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await bad.Send().AsTask().WaitAsync(Timeout));
        Assert.StartsWith("host.dial: peerId:", e.Reason);

        using var stranger = NodeKey.Generate();
        var unreachable = s.Host.NewDial();
        unreachable.Params.SetPeerId(stranger.PeerId.Bytes.Span);
        unreachable.Params.InitAddrs(1).Set(0, Multiaddr.Parse("/ip4/127.0.0.1/tcp/1").Bytes.Span);
        e = await Assert.ThrowsAsync<RpcException>(async () => await unreachable.Send().AsTask().WaitAsync(Timeout));
        Assert.StartsWith("host.dial: cannot connect to", e.Reason);

        var noAddrs = s.Host.NewDial();
        noAddrs.Params.SetPeerId(stranger.PeerId.Bytes.Span);
        e = await Assert.ThrowsAsync<RpcException>(async () => await noAddrs.Send().AsTask().WaitAsync(Timeout));
        Assert.Contains("not connected", e.Reason);
    }

    [Fact]
    public async Task ReleasingTheDialedCapabilityClosesItsStream()
    {
        NetHost a = await StartExportingAsync(out _);
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        Echo.Client echo = await s.Host.DialEchoAsync(a.Node);
        using (Response<Echo.EchoResults.Reader> r = await echo.EchoAsync("x").AsTask().WaitAsync(Timeout))
        {
        }
        Assert.True(b.Node.GetConnection(a.Node.PeerId)!.StreamCount > 0);
        echo.Dispose();
        await WaitForNoStreamsAsync(b.Node, a.Node.PeerId);
        await WaitForNoStreamsAsync(a.Node, b.Node.PeerId);
        Assert.NotNull(b.Node.GetConnection(a.Node.PeerId)); // the connection stays: the guest asked for it
    }

    [Fact]
    public async Task WhenTheRemoteNodeGoesCallsFailDisconnected()
    {
        NetHost a = await StartExportingAsync(out _);
        NetHost b = await StartAsync(null);
        Session s = await b.Session;
        using Echo.Client echo = await s.Host.DialEchoAsync(a.Node);
        await a.Node.DisposeAsync();
        var e = await Assert.ThrowsAsync<RpcException>(async () => await echo.EchoAsync("anyone?").AsTask().WaitAsync(Timeout));
        Assert.Equal(RpcErrorType.Disconnected, e.Type);
    }

    private static async Task WaitForNoStreamsAsync(P2pNode node, PeerId peer)
    {
        for (int i = 0; i < 500; i++)
        {
            if ((node.GetConnection(peer)?.StreamCount ?? 0) == 0)
            {
                return;
            }
            await Task.Delay(20);
        }
        Assert.Fail($"{node} still has {node.GetConnection(peer)?.StreamCount} streams to {peer}");
    }

    private sealed class NetHost(NodeKey key, P2pNode node, HostHarness harness, Task<Session> session) : IAsyncDisposable
    {
        public P2pNode Node => node;

        public NodeKey Key => key;

        public Task<Session> Session => session;

        public async ValueTask DisposeAsync()
        {
            if (session.IsCompletedSuccessfully)
            {
                session.Result.Dispose();
            }
            await harness.DisposeAsync();
            await node.DisposeAsync();
            key.Dispose();
        }
    }
}

internal sealed class TestCounter(uint start) : Counter.Server
{
    private uint _value = start;

    public override ValueTask IncrementAsync(Counter.IncrementParams.Reader @params, Counter.IncrementResults.Builder results, CallContext context)
    {
        results.Value = Interlocked.Increment(ref _value);
        return ValueTask.CompletedTask;
    }
}

/// <summary>The Echo of tests/interop/rpc/interop.capnp, enough of it for the network tests.</summary>
internal sealed class InteropEcho : Echo.Server
{
    public int Calls;

    public override ValueTask EchoAsync(Echo.EchoParams.Reader @params, Echo.EchoResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        results.SetText(@params.Text.ToString());
        return ValueTask.CompletedTask;
    }

    public override ValueTask FailAsync(Echo.FailParams.Reader @params, Echo.FailResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        throw new RpcException(RpcErrorType.Failed, "requested failure: " + @params.Reason);
    }

    public override ValueTask MakeCounterAsync(Echo.MakeCounterParams.Reader @params, Echo.MakeCounterResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        using Counter.Client counter = Counter.Client.FromServer(new TestCounter(@params.Start));
        results.Counter = context.AddResultCapability(counter);
        return ValueTask.CompletedTask;
    }

    public override async ValueTask CallBackAsync(Echo.CallBackParams.Reader @params, Echo.CallBackResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        using Echo.Client callback = context.GetParamClient<Echo.Client>(@params.Callback)
            ?? throw new RpcException(RpcErrorType.Failed, "null callback");
        using Response<Echo.EchoResults.Reader> r = await callback.EchoAsync("called back: " + @params.Text, context.CancellationToken);
        results.SetText(r.Results.Text.ToString());
    }

    public override ValueTask IdentityAsync(Echo.IdentityParams.Reader @params, Echo.IdentityResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        using Counter.Client? given = context.GetParamClient<Counter.Client>(@params.Counter);
        results.Counter = given is null ? null : context.AddResultCapability(given);
        return ValueTask.CompletedTask;
    }
}

internal static class HostCalls
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>host.dial to <paramref name="remote"/>'s node at its listen address, as an Echo.</summary>
    public static async Task<Echo.Client> DialEchoAsync(this Schema.Host.Client host, P2pNode node)
    {
        var dial = host.NewDial();
        dial.Params.SetPeerId(node.PeerId.Bytes.Span);
        dial.Params.InitAddrs(1).Set(0, node.ListenAddresses[0].Bytes.Span);
        using Response<Schema.Host.DialResults.Reader> r = await dial.Send().AsTask().WaitAsync(Timeout);
        return r.GetClient<Echo.Client>(r.Results.Cap) ?? throw new InvalidOperationException("dial returned a null capability");
    }

    public static async Task<List<Multiaddr>> AddrsOfAsync(this Schema.Host.Client host)
    {
        using Response<Schema.Host.AddrsResults.Reader> r = await host.AddrsAsync().AsTask().WaitAsync(Timeout);
        var addrs = new List<Multiaddr>();
        foreach (Capnp.Data d in r.Results.Addrs)
        {
            addrs.Add(Multiaddr.FromBytes(d.Span));
        }
        return addrs;
    }

    public static async Task<List<(PeerId Peer, List<Multiaddr> Addrs)>> PeersOfAsync(this Schema.Host.Client host)
    {
        using Response<Schema.Host.PeersResults.Reader> r = await host.PeersAsync().AsTask().WaitAsync(Timeout);
        var peers = new List<(PeerId, List<Multiaddr>)>();
        foreach (PeerInfo.Reader p in r.Results.Peers)
        {
            var addrs = new List<Multiaddr>();
            foreach (Capnp.Data d in p.Addrs)
            {
                addrs.Add(Multiaddr.FromBytes(d.Span));
            }
            peers.Add((PeerId.FromBytes(p.PeerId.Span), addrs));
        }
        return peers;
    }
}
