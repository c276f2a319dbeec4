using System.Collections.Concurrent;
using System.IO.Pipelines;
using P = Wetware.Capnp.Rpc.Tests.Protocol;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>
/// A peer that reads a call, stops reading (completes its end) and answers: a guest that serves a call,
/// returns and exits. The pipe tells the caller's pending flush that the reader completed, which says
/// nothing about the call it carried: the call was read, and its Return is on its way.
/// </summary>
public sealed class PeerStopsReadingTests
{
    /// <summary>Holds the writer's flush continuations until the test runs them.</summary>
    private sealed class HeldScheduler : PipeScheduler
    {
        private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _held = new();

        public override void Schedule(Action<object?> action, object? state) => _held.Enqueue((action, state));

        public int Count => _held.Count;

        public void RunAll()
        {
            while (_held.TryDequeue(out var item))
            {
                item.Action(item.State);
            }
        }
    }

    [Fact]
    public async Task ACallThePeerReadBeforeItStoppedReadingGetsItsReturn()
    {
        var held = new HeldScheduler();
        // Our output pauses past 512 bytes, so a large call's flush waits for the peer to read.
        var toPeer = new Pipe(new PipeOptions(pauseWriterThreshold: 512, resumeWriterThreshold: 256, writerScheduler: held, useSynchronizationContext: false));
        var fromPeer = new Pipe();
        await using var c = new RpcConnection(new DuplexPipe(fromPeer.Reader, toPeer.Writer));
        c.Start();

        // The peer's bootstrap: a capability it hosts (export 0).
        Task<Capability> bootstrap = c.BootstrapAsync();
        Assert.Equal(P.Message.Which.Bootstrap, await NextAsync(toPeer.Reader));
        await SendAsync(fromPeer.Writer, m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = 0;
            P.Payload.Builder p = r.InitResults();
            p.Content.SetCapability(0);
            P.CapDescriptor.Builder d = p.InitCapTable(1)[0];
            d.SenderHosted = 0;
        });
        using Capability cap = await bootstrap.WaitAsync(TimeSpan.FromSeconds(10));

        using RpcRequest req = cap.NewRequest(TestServer.InterfaceId, 0);
        req.Params.InitStruct(0, 1).SetText(0, new string('x', 4096));
        Task<RpcResponse> response = req.SendAsync();

        // The peer reads up to the call, then stops reading: the flush learns it only when it resumes.
        uint questionId = 0;
        while (true)
        {
            using MessageReader? m = await Framing.ReadMessageAsync(toPeer.Reader).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(m);
            P.Message.Reader r = m.GetRoot<P.Message.Reader>();
            if (r.Which == P.Message.Which.Call)
            {
                questionId = r.Call.QuestionId;
                break;
            }
        }
        await toPeer.Reader.CompleteAsync();
        Assert.True(held.Count > 0, "the call's flush was not waiting");
        held.RunAll();

        // It answers, then goes.
        await SendAsync(fromPeer.Writer, m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = questionId;
            r.InitResults().Content.InitStruct(0, 1).SetText(0, "read it");
        });
        using (RpcResponse answer = await response.WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal("read it", answer.Results.GetStruct().ReadText(0).ToString());
        }
        await fromPeer.Writer.CompleteAsync();
        await c.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(RpcErrorType.Disconnected, c.CloseReason!.Type);
    }

    [Fact]
    public async Task ACallThePeerNeverAnsweredFailsWhenItsEndCloses()
    {
        var held = new HeldScheduler();
        var toPeer = new Pipe(new PipeOptions(pauseWriterThreshold: 512, resumeWriterThreshold: 256, writerScheduler: held, useSynchronizationContext: false));
        var fromPeer = new Pipe();
        await using var c = new RpcConnection(new DuplexPipe(fromPeer.Reader, toPeer.Writer));
        c.Start();
        Task<Capability> bootstrap = c.BootstrapAsync();
        Assert.Equal(P.Message.Which.Bootstrap, await NextAsync(toPeer.Reader));
        await SendAsync(fromPeer.Writer, m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = 0;
            P.Payload.Builder p = r.InitResults();
            p.Content.SetCapability(0);
            P.CapDescriptor.Builder d = p.InitCapTable(1)[0];
            d.SenderHosted = 0;
        });
        using Capability cap = await bootstrap.WaitAsync(TimeSpan.FromSeconds(10));

        using RpcRequest req = cap.NewRequest(TestServer.InterfaceId, 0);
        req.Params.InitStruct(0, 1).SetText(0, new string('x', 4096));
        Task<RpcResponse> response = req.SendAsync();
        await toPeer.Reader.CompleteAsync();
        held.RunAll();
        await fromPeer.Writer.CompleteAsync();

        RpcException e = await Assert.ThrowsAsync<RpcException>(() => response.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(RpcErrorType.Disconnected, e.Type);
    }

    private static async Task<P.Message.Which> NextAsync(PipeReader reader)
    {
        using MessageReader? m = await Framing.ReadMessageAsync(reader).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(m);
        return m.GetRoot<P.Message.Reader>().Which;
    }

    private static async Task SendAsync(PipeWriter output, Action<P.Message.Builder> fill)
    {
        using var m = new MessageBuilder();
        fill(m.InitRoot<P.Message.Builder>());
        await Framing.WriteMessageAsync(output, m);
    }
}
