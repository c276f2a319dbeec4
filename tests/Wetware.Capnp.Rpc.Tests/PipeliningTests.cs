using System.IO.Pipelines;
using P = Wetware.Capnp.Rpc.Tests.Protocol;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>Calls pipelined on answers that have not returned yet, sent by a hand-driven peer (as the C++ client does).</summary>
public sealed class PipeliningTests
{
    private static async Task SendAsync(IDuplexPipe peer, Action<P.Message.Builder> fill)
    {
        using var m = new MessageBuilder();
        fill(m.InitRoot<P.Message.Builder>());
        await Framing.WriteMessageAsync(peer.Output, m);
    }

    private static void PipelinedCall(P.Message.Builder m, uint id, uint onQuestion, ushort method, int[] path, string? text)
    {
        P.Call.Builder call = m.InitCall();
        call.QuestionId = id;
        call.InterfaceId = TestServer.InterfaceId;
        call.MethodId = method;
        P.PromisedAnswer.Builder pa = call.InitTarget().InitPromisedAnswer();
        pa.QuestionId = onQuestion;
        StructListBuilder<P.PromisedAnswer.Op.Builder> ops = pa.InitTransform(path.Length);
        for (int i = 0; i < path.Length; i++)
        {
            P.PromisedAnswer.Op.Builder op = ops[i];
            op.GetPointerField = (ushort)path[i];
        }
        P.Payload.Builder p = call.InitParams();
        if (text is not null)
        {
            p.Content.InitStruct(0, 1).SetText(0, text);
        }
    }

    /// <summary>Reads messages until the Returns for <paramref name="ids"/> have all come; returns them by id.</summary>
    private static async Task<Dictionary<uint, (P.Return.Which Kind, string Text)>> ReturnsAsync(IDuplexPipe peer, params uint[] ids)
    {
        var got = new Dictionary<uint, (P.Return.Which, string)>();
        while (got.Count < ids.Length)
        {
            using MessageReader? m = await Framing.ReadMessageAsync(peer.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            P.Message.Reader r = m!.GetRoot<P.Message.Reader>();
            Assert.NotEqual(P.Message.Which.Abort, r.Which);
            if (r.Which != P.Message.Which.Return)
            {
                continue;
            }
            P.Return.Reader ret = r.Return;
            string text = ret.Which switch
            {
                P.Return.Which.Results => ret.Results.Content.Kind == PointerKind.Struct && ret.Results.Content.GetStruct().PointerCount > 0
                    && ret.Results.Content.GetStruct().ReadAnyPointer(0).Kind == PointerKind.List
                    ? ret.Results.Content.GetStruct().ReadText(0).ToString() : "",
                P.Return.Which.Exception => ret.Exception.Reason.ToString(),
                _ => "",
            };
            got[ret.AnswerId] = (ret.Which, text);
        }
        return got;
    }

    [Fact]
    public async Task CallPipelinedOnTheBootstrapAnswerIsDelivered()
    {
        var (a, peer) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(new TestServer());
        await using var c = new RpcConnection(a, bootstrap);
        c.Start();
        await SendAsync(peer, m => m.InitBootstrap().QuestionId = 0);
        await SendAsync(peer, m => PipelinedCall(m, 1, 0, 0, [], "through the promise"));
        var returns = await ReturnsAsync(peer, 0, 1);
        Assert.Equal(P.Return.Which.Results, returns[1].Kind);
        Assert.Equal("through the promise", returns[1].Text);
    }

    [Fact]
    public async Task CallPipelinedOnACapabilityInAResultIsDeliveredInOrder()
    {
        var (a, peer) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(new TestServer());
        await using var c = new RpcConnection(a, bootstrap);
        c.Start();
        await SendAsync(peer, m => m.InitBootstrap().QuestionId = 0);
        // makeCounter() on the bootstrap promise, then calls on field 0 of its results, before anything returned.
        await SendAsync(peer, m => PipelinedCall(m, 1, 0, 2, [], null));
        await SendAsync(peer, m => PipelinedCall(m, 2, 1, 0, [0], "first"));
        await SendAsync(peer, m => PipelinedCall(m, 3, 1, 0, [0], "second"));
        await SendAsync(peer, m => PipelinedCall(m, 4, 1, 5, [0], null)); // count(): two echoes came before it
        var returns = await ReturnsAsync(peer, 0, 1, 2, 3, 4);
        Assert.Equal("first", returns[2].Text);
        Assert.Equal("second", returns[3].Text);
        Assert.Equal(P.Return.Which.Results, returns[4].Kind);
    }

    [Fact]
    public async Task CallPipelinedOnAFailedAnswerFailsWithTheSameError()
    {
        var (a, peer) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(new TestServer());
        await using var c = new RpcConnection(a, bootstrap);
        c.Start();
        await SendAsync(peer, m => m.InitBootstrap().QuestionId = 0);
        await SendAsync(peer, m => PipelinedCall(m, 1, 0, 1, [], null)); // fail()
        await SendAsync(peer, m => PipelinedCall(m, 2, 1, 0, [0], "never"));
        var returns = await ReturnsAsync(peer, 0, 1, 2);
        Assert.Equal(P.Return.Which.Exception, returns[1].Kind);
        Assert.Equal(P.Return.Which.Exception, returns[2].Kind);
        Assert.Equal("this method always fails", returns[2].Text);
    }

    [Fact]
    public async Task CallPipelinedOnAnUnknownQuestionAborts()
    {
        var (a, peer) = DuplexPipe.CreatePair();
        await using var c = new RpcConnection(a);
        c.Start();
        await SendAsync(peer, m => PipelinedCall(m, 1, 77, 0, [], "x"));
        using MessageReader? m = await Framing.ReadMessageAsync(peer.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        P.Message.Reader r = m!.GetRoot<P.Message.Reader>();
        Assert.Equal(P.Message.Which.Abort, r.Which);
        Assert.Contains("question 77", r.Abort.Reason.ToString());
    }

    [Fact]
    public async Task DisembargoForACapabilityThatLoopsBackIsEchoedToTheSender()
    {
        var (a, peer) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(new TestServer());
        await using var c = new RpcConnection(a, bootstrap);
        c.Start();
        await SendAsync(peer, m => m.InitBootstrap().QuestionId = 0);
        // identity(our export 5) pipelined on the bootstrap: the result is the peer's own capability.
        await SendAsync(peer, m =>
        {
            PipelinedCall(m, 1, 0, 6, [], null);
            P.Payload.Builder p = m.Call.Params;
            p.Content.InitStruct(0, 1).SetCapability(0, 0);
            P.CapDescriptor.Builder d = p.InitCapTable(1)[0];
            d.SenderHosted = 5;
        });
        await SendAsync(peer, m =>
        {
            P.Disembargo.Builder d = m.InitDisembargo();
            P.PromisedAnswer.Builder pa = d.InitTarget().InitPromisedAnswer();
            pa.QuestionId = 1;
            P.PromisedAnswer.Op.Builder op = pa.InitTransform(1)[0];
            op.GetPointerField = 0;
            P.Disembargo.Context.Builder ctx = d.Context;
            ctx.SenderLoopback = 77;
        });
        while (true)
        {
            using MessageReader? m = await Framing.ReadMessageAsync(peer.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            P.Message.Reader r = m!.GetRoot<P.Message.Reader>();
            Assert.True(r.Which != P.Message.Which.Abort, $"aborted: {(r.Which == P.Message.Which.Abort ? r.Abort.Reason.ToString() : "")}");
            if (r.Which == P.Message.Which.Disembargo)
            {
                Assert.Equal(P.Disembargo.Context.Which.ReceiverLoopback, r.Disembargo.Context.Which);
                Assert.Equal(77u, r.Disembargo.Context.ReceiverLoopback);
                Assert.Equal(P.MessageTarget.Which.ImportedCap, r.Disembargo.Target.Which);
                Assert.Equal(5u, r.Disembargo.Target.ImportedCap);
                break;
            }
        }
    }
}
