using System.IO.Pipelines;
using P = Wetware.Capnp.Rpc.Tests.Protocol;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>A peer that writes hand-made messages: each violation aborts the connection with a reason.</summary>
public sealed class HostilePeerTests
{
    private static async Task<(RpcConnection Connection, IDuplexPipe Peer)> StartAsync()
    {
        var (a, b) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(new TestServer());
        var connection = new RpcConnection(a, bootstrap);
        connection.Start();
        await Task.Yield();
        return (connection, b);
    }

    private static async Task SendAsync(IDuplexPipe peer, Action<P.Message.Builder> fill)
    {
        using var m = new MessageBuilder();
        fill(m.InitRoot<P.Message.Builder>());
        await Framing.WriteMessageAsync(peer.Output, m);
    }

    /// <summary>Reads until the Abort the connection sends; returns its reason.</summary>
    private static async Task<string> AbortReasonAsync(IDuplexPipe peer)
    {
        while (true)
        {
            using MessageReader? m = await Framing.ReadMessageAsync(peer.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(m);
            P.Message.Reader r = m.GetRoot<P.Message.Reader>();
            if (r.Which == P.Message.Which.Abort)
            {
                return r.Abort.Reason.ToString();
            }
        }
    }

    [Fact]
    public async Task ReturnForAQuestionNeverAskedAborts()
    {
        var (c, peer) = await StartAsync();
        await SendAsync(peer, m => m.InitReturn().AnswerId = 42);
        Assert.Contains("question 42", await AbortReasonAsync(peer));
        await c.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(RpcErrorType.Failed, c.CloseReason!.Type);
        await c.DisposeAsync();
    }

    [Fact]
    public async Task ReleaseOfAnUnknownExportAborts()
    {
        var (c, peer) = await StartAsync();
        await SendAsync(peer, m =>
        {
            P.Release.Builder r = m.InitRelease();
            r.Id = 7;
            r.ReferenceCount = 1;
        });
        Assert.Contains("export 7", await AbortReasonAsync(peer));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task DoubleFinishAborts()
    {
        var (c, peer) = await StartAsync();
        await SendAsync(peer, m => m.InitBootstrap().QuestionId = 0);
        await SendAsync(peer, m => m.InitFinish().QuestionId = 0);
        await SendAsync(peer, m => m.InitFinish().QuestionId = 0);
        Assert.Contains("Finish for question 0", await AbortReasonAsync(peer));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task CallToAnExportThatDoesNotExistAborts()
    {
        var (c, peer) = await StartAsync();
        await SendAsync(peer, m =>
        {
            P.Call.Builder call = m.InitCall();
            call.QuestionId = 3;
            P.MessageTarget.Builder t = call.InitTarget();
            t.ImportedCap = 99;
            call.InitParams();
        });
        Assert.Contains("export 99", await AbortReasonAsync(peer));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task MessageOverTheSizeLimitAbortsWithTheLimitNamed()
    {
        var (a, peer) = DuplexPipe.CreatePair();
        var c = new RpcConnection(a, null, new RpcConnectionOptions { Reader = new ReaderOptions { MaxMessageBytes = 1024 } });
        c.Start();
        byte[] header = new byte[8];
        BitConverter.TryWriteBytes(header.AsSpan(4), 100_000u);
        await peer.Output.WriteAsync(header);
        Assert.Contains("message size", await AbortReasonAsync(peer));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task GarbageBytesAbortWithoutAnUnhandledException()
    {
        var (c, peer) = await StartAsync();
        await peer.Output.WriteAsync(new byte[] { 0, 0, 0, 0, 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8 });
        Assert.Contains("bad message", await AbortReasonAsync(peer));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task UnknownMessageKindIsEchoedAsUnimplemented()
    {
        var (c, peer) = await StartAsync();
        await SendAsync(peer, m => m.InitProvide().QuestionId = 5);
        using MessageReader? reply = await Framing.ReadMessageAsync(peer.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        P.Message.Reader r = reply!.GetRoot<P.Message.Reader>();
        Assert.Equal(P.Message.Which.Unimplemented, r.Which);
        Assert.Equal(P.Message.Which.Provide, r.Unimplemented.Which);
        Assert.Equal(5u, r.Unimplemented.Provide.QuestionId);
        await c.DisposeAsync();
    }

    [Fact]
    public async Task BootstrapWithoutABootstrapCapabilityReturnsAnException()
    {
        var (a, peer) = DuplexPipe.CreatePair();
        var c = new RpcConnection(a);
        c.Start();
        await SendAsync(peer, m => m.InitBootstrap().QuestionId = 1);
        using MessageReader? reply = await Framing.ReadMessageAsync(peer.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        P.Message.Reader r = reply!.GetRoot<P.Message.Reader>();
        Assert.Equal(P.Message.Which.Return, r.Which);
        Assert.Equal(P.Return.Which.Exception, r.Return.Which);
        Assert.Contains("no bootstrap", r.Return.Exception.Reason.ToString());
        await c.DisposeAsync();
    }

    [Fact]
    public async Task EchoOfAnEmbargoNeverSentAborts()
    {
        var (c, peer) = await StartAsync();
        await SendAsync(peer, m =>
        {
            P.Disembargo.Builder d = m.InitDisembargo();
            d.InitTarget().ImportedCap = 0;
            P.Disembargo.Context.Builder ctx = d.Context;
            ctx.ReceiverLoopback = 3;
        });
        Assert.Contains("embargo 3", await AbortReasonAsync(peer));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task ReceiverAnswerNamingNoAnswerAborts()
    {
        var (c, peer) = await StartAsync();
        await SendAsync(peer, m => m.InitBootstrap().QuestionId = 0);
        await SendAsync(peer, m =>
        {
            P.Call.Builder call = m.InitCall();
            call.QuestionId = 1;
            call.InterfaceId = TestServer.InterfaceId;
            call.MethodId = 6;
            call.InitTarget().InitPromisedAnswer().QuestionId = 0;
            P.Payload.Builder p = call.InitParams();
            p.Content.InitStruct(0, 1).SetCapability(0, 0);
            p.InitCapTable(1)[0].InitReceiverAnswer().QuestionId = 40;
        });
        Assert.Contains("question 40", await AbortReasonAsync(peer));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task FinishBeforeTheAnswerIsReadyReturnsCanceled()
    {
        var server = new TestServer();
        var (a, peer) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(server);
        await using var c = new RpcConnection(a, bootstrap);
        c.Start();
        await SendAsync(peer, m => m.InitBootstrap().QuestionId = 0);
        await SendAsync(peer, m =>
        {
            P.Call.Builder call = m.InitCall();
            call.QuestionId = 1;
            call.InterfaceId = TestServer.InterfaceId;
            call.MethodId = 4; // slow: waits until canceled
            call.InitTarget().InitPromisedAnswer().QuestionId = 0;
            call.InitParams();
        });
        await server.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await SendAsync(peer, m => m.InitFinish().QuestionId = 1);
        await server.SlowCanceled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        while (true)
        {
            using MessageReader? m = await Framing.ReadMessageAsync(peer.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            P.Message.Reader r = m!.GetRoot<P.Message.Reader>();
            if (r.Which == P.Message.Which.Return && r.Return.AnswerId == 1)
            {
                Assert.Equal(P.Return.Which.Canceled, r.Return.Which);
                break;
            }
        }
    }
}
