namespace Wetware.Capnp.Rpc.Tests;

/// <summary>Capability.Guard (the epoch guard's mechanism) and the disposal of servers whose last reference goes.</summary>
public sealed class GuardTests
{
    private sealed class Switch
    {
        public volatile bool Revoked;

        public RpcException? Check() => Revoked ? new RpcException(RpcErrorType.Failed, "staleEpoch: test") : null;
    }

    private sealed class DisposableServer : IRpcServer, IDisposable
    {
        public readonly TaskCompletionSource Disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask DispatchAsync(CallContext context)
        {
            context.Results.InitStruct(0, 1).SetText(0, context.Params.GetStruct().ReadText(0).ToString());
            return ValueTask.CompletedTask;
        }

        public void Dispose() => Disposed.TrySetResult();
    }

    [Fact]
    public async Task AGuardPassesCallsUntilItsCheckFailsThemLocally()
    {
        var gate = new Switch();
        using Capability inner = Capability.FromServer(new TestServer());
        using Capability guarded = Capability.Guard(inner, gate.Check);
        Assert.Equal("ok", await TestServer.EchoAsync(guarded, "ok"));
        gate.Revoked = true;
        var e = await Assert.ThrowsAsync<RpcException>(() => TestServer.EchoAsync(guarded, "no"));
        Assert.StartsWith("staleEpoch:", e.Reason);
        Assert.Equal("still", await TestServer.EchoAsync(inner, "still")); // the inner capability is untouched
    }

    [Fact]
    public async Task AGuardChecksCallsThatArriveOverAConnection()
    {
        var gate = new Switch();
        var (a, b) = DuplexPipe.CreatePair();
        using Capability inner = Capability.FromServer(new TestServer());
        using Capability guarded = Capability.Guard(inner, gate.Check);
        await using var host = new RpcConnection(b, guarded);
        await using var client = new RpcConnection(a);
        host.Start();
        client.Start();
        using Capability remote = await client.BootstrapAsync();
        Assert.Equal("over the wire", await TestServer.EchoAsync(remote, "over the wire"));
        gate.Revoked = true;
        var e = await Assert.ThrowsAsync<RpcException>(() => TestServer.EchoAsync(remote, "no"));
        Assert.Equal(RpcErrorType.Failed, e.Type);
        Assert.StartsWith("staleEpoch:", e.Reason);
        // The denial is the call's, not the connection's.
        gate.Revoked = false;
        Assert.Equal("again", await TestServer.EchoAsync(remote, "again"));
    }

    [Fact]
    public async Task ADisposableServerIsDisposedWhenTheLastReferenceGoesEvenRemotely()
    {
        var local = new DisposableServer();
        Capability first = Capability.FromServer(local);
        Capability second = first.Clone();
        first.Dispose();
        Assert.False(local.Disposed.Task.IsCompleted);
        second.Dispose();
        await local.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(5));

        var remoteServer = new DisposableServer();
        var (a, b) = DuplexPipe.CreatePair();
        await using var host = new RpcConnection(b);
        await using var client = new RpcConnection(a, Capability.FromServer(new TestServer()));
        host.Start();
        client.Start();
        using Capability boot = await host.BootstrapAsync();
        // identity(remoteServer) hands it to the other side and back; the peer's references go with Release.
        using (Capability mine = Capability.FromServer(remoteServer))
        using (RpcRequest call = boot.NewRequest(TestServer.InterfaceId, 6))
        {
            call.Params.InitStruct(0, 1).SetCapability(0, call.AddCapability(mine));
            using RpcResponse r = await call.SendAsync();
            Assert.False(remoteServer.Disposed.Task.IsCompleted);
        }
        await remoteServer.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
