using System.IO.Pipelines;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>Our own calls on results that have not arrived (promise pipelining), checked on the wire.</summary>
public sealed class OutgoingPipeliningTests
{
    [Fact]
    public async Task PipelinedCallsAreSentBeforeTheFirstReturnIsRead()
    {
        var clientToHost = new Pipe();
        var hostToRelay = new Pipe();
        var relayToClient = new Pipe();
        var server = new TestServer();
        using Capability bootstrapCap = Capability.FromServer(server);
        await using var host = new RpcConnection(new DuplexPipe(clientToHost.Reader, hostToRelay.Writer), bootstrapCap);
        await using var client = new RpcConnection(new DuplexPipe(relayToClient.Reader, clientToHost.Writer));
        host.Start();
        client.Start();
        var gate = new SemaphoreSlim(0);
        _ = Task.Run(async () =>
        {
            // Forward one read's worth of bytes per release of the gate.
            while (true)
            {
                await gate.WaitAsync();
                ReadResult r = await hostToRelay.Reader.ReadAsync();
                foreach (ReadOnlyMemory<byte> chunk in r.Buffer)
                {
                    await relayToClient.Writer.WriteAsync(chunk);
                }
                hostToRelay.Reader.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    break;
                }
            }
        });
        Task<Capability> main = client.BootstrapAsync();
        gate.Release();
        using Capability echo = await main.WaitAsync(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 500 && host.Counts.Answers != 0; i++)
        {
            await Task.Delay(10); // the bootstrap answer goes once the client's Finish arrives
        }
        Assert.Equal(0, host.Counts.Answers);
        int callsBefore = server.Calls;

        // makeCounter(), then echo on its result and count() on that: all pipelined, with the relay shut.
        using RpcRequest make = echo.NewRequest(TestServer.InterfaceId, 2);
        make.Params.InitStruct(0, 0);
        RpcPromise made = make.Send();
        using Capability counter = made.GetPipelinedCapability(0);
        using RpcRequest e1 = counter.NewRequest(TestServer.InterfaceId, 0);
        e1.Params.InitStruct(0, 1).SetText(0, "one");
        Task<RpcResponse> r1 = e1.SendAsync();
        using RpcRequest e2 = counter.NewRequest(TestServer.InterfaceId, 0);
        e2.Params.InitStruct(0, 1).SetText(0, "two");
        Task<RpcResponse> r2 = e2.SendAsync();

        // The host answers all three while the client has read no Return: one round trip, not three.
        for (int i = 0; i < 500 && host.Counts.Answers < 3; i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal(3, host.Counts.Answers);
        Assert.False(made.Response.IsCompleted || r1.IsCompleted || r2.IsCompleted);

        while (!(made.Response.IsCompleted && r1.IsCompleted && r2.IsCompleted))
        {
            gate.Release();
            await Task.Delay(10);
        }
        using RpcResponse m = await made.Response;
        using RpcResponse a = await r1;
        using RpcResponse b = await r2;
        Assert.Equal("one", a.Results.GetStruct().ReadText(0).ToString());
        Assert.Equal("two", b.Results.GetStruct().ReadText(0).ToString());
        Assert.Equal(callsBefore + 1, server.Calls); // makeCounter on the main server; the echoes went to the counter

        // After the return, calls on the same pipelined capability go straight to the resolved one.
        gate.Release(1000);
        using RpcRequest e3 = counter.NewRequest(TestServer.InterfaceId, 0);
        e3.Params.InitStruct(0, 1).SetText(0, "three");
        using RpcResponse c = await e3.SendAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("three", c.Results.GetStruct().ReadText(0).ToString());
    }

    [Fact]
    public async Task PipeliningOnALocalCapabilityDeliversInOrder()
    {
        var server = new TestServer();
        using Capability main = Capability.FromServer(server);
        using RpcRequest make = main.NewRequest(TestServer.InterfaceId, 2);
        make.Params.InitStruct(0, 0);
        RpcPromise made = make.Send();
        using Capability counter = made.GetPipelinedCapability(0);
        var calls = new List<Task<string>>();
        for (int i = 0; i < 20; i++)
        {
            calls.Add(TestServer.EchoAsync(counter, i.ToString()));
        }
        string[] results = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i.ToString()), results);
        using RpcResponse m = await made.Response;
    }

    [Fact]
    public async Task PipelinedCallOnAFailedCallFailsWithItsError()
    {
        var (a, b) = DuplexPipe.CreatePair();
        using Capability bootstrapCap = Capability.FromServer(new TestServer());
        await using var host = new RpcConnection(b, bootstrapCap);
        await using var client = new RpcConnection(a);
        host.Start();
        client.Start();
        using Capability echo = await client.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10));
        using RpcRequest fail = echo.NewRequest(TestServer.InterfaceId, 1);
        RpcPromise p = fail.Send();
        using Capability nothing = p.GetPipelinedCapability(0);
        var e = await Assert.ThrowsAsync<RpcException>(() => TestServer.EchoAsync(nothing, "x").WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("this method always fails", e.Reason);
        await Assert.ThrowsAsync<RpcException>(() => p.Response);
    }
}
