namespace Wetware.Capnp.Rpc.Tests;

public sealed class LimitTests
{
    private static async Task<(RpcConnection Client, RpcConnection Host, Capability Main, TestServer Server)> PairAsync(RpcConnectionOptions? client = null, RpcConnectionOptions? host = null)
    {
        var (a, b) = DuplexPipe.CreatePair();
        var server = new TestServer();
        using Capability bootstrap = Capability.FromServer(server);
        var h = new RpcConnection(b, bootstrap, host);
        var c = new RpcConnection(a, null, client);
        h.Start();
        c.Start();
        Capability main = await c.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10));
        // The bootstrap question and answer go once its Finish is through: start from empty tables.
        for (int i = 0; i < 500 && (c.Counts.Questions != 0 || h.Counts.Answers != 0); i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal(0, c.Counts.Questions);
        Assert.Equal(0, h.Counts.Answers);
        return (c, h, main, server);
    }

    [Fact]
    public async Task CallsBeyondTheQuestionLimitFailWithOverloaded()
    {
        var (client, host, main, _) = await PairAsync(client: new RpcConnectionOptions { MaxQuestions = 2 });
        await using RpcConnection c = client;
        await using RpcConnection h = host;
        using Capability m = main;
        using RpcRequest s1 = m.NewRequest(TestServer.InterfaceId, 4);
        using RpcRequest s2 = m.NewRequest(TestServer.InterfaceId, 4);
        Task<RpcResponse> slow1 = s1.SendAsync();
        Task<RpcResponse> slow2 = s2.SendAsync();
        var e = await Assert.ThrowsAsync<RpcException>(() => TestServer.EchoAsync(m, "third"));
        Assert.Equal(RpcErrorType.Overloaded, e.Type);
        Assert.Contains("limit 2", e.Reason);
        Assert.False(slow1.IsCompleted || slow2.IsCompleted);
    }

    [Fact]
    public async Task IncomingCallsBeyondTheLimitAreAnsweredWithOverloaded()
    {
        var (client, host, main, server) = await PairAsync(host: new RpcConnectionOptions { MaxQuestions = 2 });
        await using RpcConnection c = client;
        await using RpcConnection h = host;
        using Capability m = main;
        using RpcRequest s1 = m.NewRequest(TestServer.InterfaceId, 4);
        using RpcRequest s2 = m.NewRequest(TestServer.InterfaceId, 4);
        Task<RpcResponse> slow1 = s1.SendAsync();
        Task<RpcResponse> slow2 = s2.SendAsync();
        await server.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var e = await Assert.ThrowsAsync<RpcException>(() => TestServer.EchoAsync(m, "third").WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(RpcErrorType.Overloaded, e.Type);
        Assert.Null(host.CloseReason);
    }

    [Fact]
    public async Task APeerThatNeverReadsIsDroppedOnceTooMuchWaitsForIt()
    {
        // The peer writes calls but never reads: our answers fill the pipe, then our queue, then the limit.
        var toUs = new System.IO.Pipelines.Pipe();
        var toPeer = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 16 * 1024, resumeWriterThreshold: 8 * 1024));
        using Capability bootstrap = Capability.FromServer(new TestServer());
        await using var us = new RpcConnection(new DuplexPipe(toUs.Reader, toPeer.Writer), bootstrap, new RpcConnectionOptions { MaxUnreadBytes = 64 * 1024 });
        us.Start();
        var frames = new System.IO.MemoryStream();
        for (uint q = 0; q < 4000; q++)
        {
            using var m = new MessageBuilder();
            var msg = m.InitRoot<Wetware.Capnp.Rpc.Tests.Protocol.Message.Builder>();
            if (q == 0)
            {
                msg.InitBootstrap().QuestionId = 0;
            }
            else
            {
                var call = msg.InitCall();
                call.QuestionId = q;
                call.InterfaceId = TestServer.InterfaceId;
                call.MethodId = 0;
                call.InitTarget().InitPromisedAnswer().QuestionId = 0;
                call.InitParams().Content.InitStruct(0, 1).SetText(0, new string('x', 100));
            }
            frames.Write(Framing.ToArray(m));
        }
        await toUs.Writer.WriteAsync(frames.ToArray());
        await us.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("unread", us.CloseReason!.Reason);
        Assert.Equal(new RpcTableCounts(0, 0, 0, 0, 0), us.Counts);
    }
}
