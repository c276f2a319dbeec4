namespace Wetware.Capnp.Rpc.Tests;

public sealed class ConnectionTests : IAsyncLifetime
{
    private readonly TestServer _server = new();
    private RpcConnection _client = null!;
    private RpcConnection _host = null!;
    private Capability _main = null!;

    public async Task InitializeAsync()
    {
        var (a, b) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(_server);
        _host = new RpcConnection(b, bootstrap);
        _client = new RpcConnection(a);
        _host.Start();
        _client.Start();
        _main = await _client.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    public async Task DisposeAsync()
    {
        _main.Dispose();
        await _client.DisposeAsync();
        await _host.DisposeAsync();
    }

    private async Task Eventually(Func<bool> condition, string what)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition(), $"{what}: client {_client.Counts}, host {_host.Counts}");
    }

    /// <summary>The tables of an idle connection after bootstrap: the bootstrap capability, exported once and imported once.</summary>
    private static readonly RpcTableCounts IdleClient = new(0, 0, 1, 0, 0);
    private static readonly RpcTableCounts IdleHost = new(0, 0, 0, 1, 0);

    [Fact]
    public async Task BootstrapCapabilityAnswersCalls()
    {
        Assert.Equal("hello", await TestServer.EchoAsync(_main, "hello"));
        Assert.Equal("wörld", await TestServer.EchoAsync(_main, "wörld"));
    }

    [Fact]
    public async Task ExceptionsCrossTheWireWithTypeAndReason()
    {
        using RpcRequest req = _main.NewRequest(TestServer.InterfaceId, 1);
        var e = await Assert.ThrowsAsync<RpcException>(() => req.SendAsync());
        Assert.Equal(RpcErrorType.Overloaded, e.Type);
        Assert.Equal("this method always fails", e.Reason);
    }

    [Fact]
    public async Task UnknownMethodIsUnimplemented()
    {
        using RpcRequest req = _main.NewRequest(TestServer.InterfaceId, 99);
        var e = await Assert.ThrowsAsync<RpcException>(() => req.SendAsync());
        Assert.Equal(RpcErrorType.Unimplemented, e.Type);
    }

    [Fact]
    public async Task ReturnedCapabilityIsCallableAndReleasingItEmptiesTheTables()
    {
        await Eventually(() => _client.Counts == IdleClient && _host.Counts == IdleHost, "idle after bootstrap");
        for (int i = 0; i < 20; i++)
        {
            using RpcRequest req = _main.NewRequest(TestServer.InterfaceId, 2);
            using RpcResponse r = await req.SendAsync();
            using Capability counter = r.GetCapability(r.Results.GetStruct().ReadCapability(0)!.Value)!;
            Assert.Equal($"n{i}", await TestServer.EchoAsync(counter, $"n{i}"));
        }
        await Eventually(() => _client.Counts == IdleClient && _host.Counts == IdleHost, "tables back to their idle size");
    }

    [Fact]
    public async Task CapabilityPassedInAParamIsCalledBack()
    {
        var local = new TestServer();
        using Capability callback = Capability.FromServer(local);
        using RpcRequest req = _main.NewRequest(TestServer.InterfaceId, 3);
        StructBuilder p = req.Params.InitStruct(0, 2);
        p.SetCapability(0, req.AddCapability(callback));
        p.SetText(1, "ping");
        using RpcResponse r = await req.SendAsync();
        Assert.Equal("called back: ping", r.Results.GetStruct().ReadText(0).ToString());
        Assert.Equal(1, local.Calls);
        await Eventually(() => _client.Counts == IdleClient && _host.Counts == IdleHost, "the callback export is released");
    }

    [Fact]
    public async Task CancelingACallSendsFinishAndCancelsTheServersWork()
    {
        using var cts = new CancellationTokenSource();
        using RpcRequest req = _main.NewRequest(TestServer.InterfaceId, 4);
        Task<RpcResponse> call = req.SendAsync(cts.Token);
        await _server.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await _server.SlowCanceled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually(() => _client.Counts == IdleClient && _host.Counts == IdleHost, "question and answer are gone");
        Assert.Equal("still fine", await TestServer.EchoAsync(_main, "still fine"));
    }

    [Fact]
    public async Task PendingCallsFailWithDisconnectedWhenThePeerGoes()
    {
        using RpcRequest req = _main.NewRequest(TestServer.InterfaceId, 4);
        Task<RpcResponse> call = req.SendAsync();
        await _server.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await _host.DisposeAsync();
        var e = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(RpcErrorType.Disconnected, e.Type);
        var after = await Assert.ThrowsAsync<RpcException>(() => TestServer.EchoAsync(_main, "x"));
        Assert.Equal(RpcErrorType.Disconnected, after.Type);
        await _server.SlowCanceled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ManyConcurrentCallsAllAnswerAndLeaveNoEntries()
    {
        var calls = Enumerable.Range(0, 500).Select(i => TestServer.EchoAsync(_main, i.ToString())).ToArray();
        string[] results = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 500).Select(i => i.ToString()), results);
        await Eventually(() => _client.Counts == IdleClient && _host.Counts == IdleHost, "no entries left");
    }

    [Fact]
    public async Task HundredThousandCallsPassingAndDroppingCapabilitiesBothWaysLeaveEveryTableAsItWas()
    {
        // Each round: makeCounter (a capability to us), a call on it, identity(ours) (a capability to
        // the host and back), callBack(ours) (the host calls us): four calls, three capabilities moved.
        var local = new TestServer();
        using Capability mine = Capability.FromServer(local);
        const int Rounds = 25_000;
        for (int i = 0; i < Rounds; i++)
        {
            using (RpcRequest make = _main.NewRequest(TestServer.InterfaceId, 2))
            {
                make.Params.InitStruct(0, 0);
                using RpcResponse r = await make.SendAsync();
                using Capability counter = r.GetCapability(r.Results.GetStruct().ReadCapability(0)!.Value)!;
                Assert.Equal("c", await TestServer.EchoAsync(counter, "c"));
            }
            using (RpcRequest identity = _main.NewRequest(TestServer.InterfaceId, 6))
            {
                identity.Params.InitStruct(0, 1).SetCapability(0, identity.AddCapability(mine));
                using RpcResponse r = await identity.SendAsync();
            }
            using (RpcRequest call = _main.NewRequest(TestServer.InterfaceId, 3))
            {
                StructBuilder p = call.Params.InitStruct(0, 2);
                p.SetCapability(0, call.AddCapability(mine));
                p.SetText(1, "s");
                using RpcResponse r = await call.SendAsync();
            }
        }
        Assert.Equal(Rounds, local.Calls);
        await Eventually(() => _client.Counts == IdleClient && _host.Counts == IdleHost, "every table back to idle");
    }

    [Fact]
    public async Task ACallsFinishReachesThePeerWithoutAnotherMessageToCarryIt()
    {
        // Finish is lazy (it waits to travel with the next message): with no next message it still goes.
        Assert.Equal("alone", await TestServer.EchoAsync(_main, "alone"));
        await Eventually(() => _client.Counts == IdleClient && _host.Counts == IdleHost, "the answer is finished");
    }

    [Fact]
    public async Task DisposingAResponseTwiceLeavesLaterResponsesIntact()
    {
        // Received messages are recycled: a second Dispose must not give back one that serves another call by then.
        using RpcRequest first = _main.NewRequest(TestServer.InterfaceId, 0);
        first.Params.InitStruct(0, 1).SetText(0, "one");
        RpcResponse one = await first.SendAsync();
        one.Dispose();
        using RpcRequest second = _main.NewRequest(TestServer.InterfaceId, 0);
        second.Params.InitStruct(0, 1).SetText(0, "two");
        using RpcResponse two = await second.SendAsync();
        one.Dispose();
        Assert.Equal("three", await TestServer.EchoAsync(_main, "three"));
        Assert.Equal("two", two.Results.GetStruct().ReadText(0).ToString());
    }

    [Fact]
    public async Task ARequestDisposedRightAfterItIsSentStillGoesOut()
    {
        // The host calls back from inside its dispatch, on its read loop, where its writer holds the
        // Call back until the read is handled: disposing the sent request must not take the message away.
        var (a, b) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(new DisposingCaller());
        await using var host = new RpcConnection(b, bootstrap);
        await using var client = new RpcConnection(a);
        host.Start();
        client.Start();
        using Capability main = await client.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var local = new TestServer();
        using Capability callback = Capability.FromServer(local);
        using RpcRequest req = main.NewRequest(TestServer.InterfaceId, 3);
        StructBuilder p = req.Params.InitStruct(0, 2);
        p.SetCapability(0, req.AddCapability(callback));
        p.SetText(1, "ping");
        using RpcResponse r = await req.SendAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("called back: ping", r.Results.GetStruct().ReadText(0).ToString());
        Assert.Equal(1, local.Calls);
    }

    /// <summary>callBack(cap, text), but the request is disposed as soon as it is sent, before its response.</summary>
    private sealed class DisposingCaller : IRpcServer
    {
        public async ValueTask DispatchAsync(CallContext c)
        {
            StructReader p = c.Params.GetStruct();
            using Capability callback = c.GetParamCapability(p.ReadCapability(0)!.Value)!;
            Task<RpcResponse> sent;
            using (RpcRequest req = callback.NewRequest(TestServer.InterfaceId, 0))
            {
                req.Params.InitStruct(0, 1).SetText(0, "called back: " + p.ReadText(1));
                sent = req.SendAsync();
            }
            using RpcResponse r = await sent;
            c.Results.InitStruct(0, 1).SetText(0, r.Results.GetStruct().ReadText(0).ToString());
        }
    }
}
