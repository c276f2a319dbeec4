using System.IO.Pipelines;
using P = Wetware.Capnp.Rpc.Tests.Protocol;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>
/// Promises across the wire, against a hand-driven peer so every message can be checked:
/// Resolve both ways (senderPromise), receiverAnswer both ways, and the embargo we set when a
/// promise we sent calls through resolves to one of our own capabilities.
/// </summary>
public sealed class PromiseTests
{
    /// <summary>The raw end of a connection: writes hand-made messages, reads what our side sends.</summary>
    private sealed class Peer(IDuplexPipe pipe)
    {
        public IDuplexPipe Pipe => pipe;

        public async Task SendAsync(Action<P.Message.Builder> fill)
        {
            using var m = new MessageBuilder();
            fill(m.InitRoot<P.Message.Builder>());
            await Framing.WriteMessageAsync(pipe.Output, m);
        }

        /// <summary>The next message our side sends (dispose it).</summary>
        public async Task<MessageReader> NextAsync()
        {
            MessageReader? m = await Framing.ReadMessageAsync(pipe.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(m);
            P.Message.Reader r = m.GetRoot<P.Message.Reader>();
            Assert.True(r.Which != P.Message.Which.Abort, r.Which == P.Message.Which.Abort ? "aborted: " + r.Abort.Reason : "");
            return m;
        }

        /// <summary>Reads messages until one of kind <paramref name="which"/>, failing on any other kind than those in <paramref name="skip"/>.</summary>
        public async Task<MessageReader> ExpectAsync(P.Message.Which which, params P.Message.Which[] skip)
        {
            while (true)
            {
                MessageReader m = await NextAsync();
                P.Message.Which got = m.GetRoot<P.Message.Reader>().Which;
                if (got == which)
                {
                    return m;
                }
                Assert.True(skip.Contains(got), $"expected {which}, got {got}");
                m.Dispose();
            }
        }

        /// <summary>Answers question <paramref name="question"/> with one capability: the results pointer itself (a Bootstrap) or field 0 of a results struct.</summary>
        public Task ReturnCapAsync(uint question, Action<P.CapDescriptor.Builder> describe, bool inStruct = false) => SendAsync(m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = question;
            r.ReleaseParamCaps = false; // as the C++ implementation sends it
            P.Payload.Builder p = r.InitResults();
            if (inStruct)
            {
                p.Content.InitStruct(0, 1).SetCapability(0, 0);
            }
            else
            {
                p.Content.SetCapability(0);
            }
            describe(p.InitCapTable(1)[0]);
        });
    }

    /// <summary>Records the texts of the echo calls it serves, in arrival order.</summary>
    private sealed class Recorder : IRpcServer
    {
        public readonly List<string> Seen = [];

        public ValueTask DispatchAsync(CallContext c)
        {
            string text = c.Params.GetStruct().ReadText(0).ToString();
            lock (Seen)
            {
                Seen.Add(text);
            }
            c.Results.InitStruct(0, 1).SetText(0, text);
            return ValueTask.CompletedTask;
        }

        public string[] Snapshot()
        {
            lock (Seen)
            {
                return [.. Seen];
            }
        }
    }

    private static async Task<(RpcConnection Ours, Peer Peer, Capability Remote)> ConnectAsync(Capability? bootstrap = null)
    {
        var (a, b) = DuplexPipe.CreatePair();
        var ours = new RpcConnection(a, bootstrap);
        ours.Start();
        var peer = new Peer(b);
        Task<Capability> boot = ours.BootstrapAsync();
        uint q;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Bootstrap))
        {
            q = m.GetRoot<P.Message.Reader>().Bootstrap.QuestionId;
        }
        await peer.ReturnCapAsync(q, d => d.SenderHosted = 0);
        Capability remote = await boot.WaitAsync(TimeSpan.FromSeconds(10));
        (await peer.ExpectAsync(P.Message.Which.Finish)).Dispose();
        return (ours, peer, remote);
    }

    private static RpcRequest Echo(Capability cap, string text)
    {
        RpcRequest r = cap.NewRequest(TestServer.InterfaceId, 0);
        r.Params.InitStruct(0, 1).SetText(0, text);
        return r;
    }

    private static async Task Eventually(Func<bool> condition, string what)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition(), what);
    }

    [Fact]
    public async Task PipelineResolvingToOurOwnCapabilityIsEmbargoedUntilTheReflectedCallsArrive()
    {
        var (ours, peer, remote) = await ConnectAsync();
        await using RpcConnection conn = ours;
        using Capability __ = remote;
        var recorder = new Recorder();
        using Capability local = Capability.FromServer(recorder);

        // identity(local) to the peer; "early" pipelined on its result before it returns.
        RpcRequest identity = remote.NewRequest(TestServer.InterfaceId, 6);
        identity.Params.InitStruct(0, 1).SetCapability(0, identity.AddCapability(local));
        RpcPromise promise = identity.Send();
        using Capability pipelined = promise.GetPipelinedCapability(0);
        Task<RpcResponse> early = Echo(pipelined, "early").SendAsync();

        uint identityQ, exportId, earlyQ;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            P.Call.Reader call = m.GetRoot<P.Message.Reader>().Call;
            identityQ = call.QuestionId;
            Assert.Equal(P.CapDescriptor.Which.SenderHosted, call.Params.CapTable[0].Which);
            exportId = call.Params.CapTable[0].SenderHosted;
        }
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            P.Call.Reader call = m.GetRoot<P.Message.Reader>().Call;
            earlyQ = call.QuestionId;
            Assert.Equal(P.MessageTarget.Which.PromisedAnswer, call.Target.Which);
            Assert.Equal(identityQ, call.Target.PromisedAnswer.QuestionId);
        }

        // The peer answers: the result is our own capability (receiverHosted).
        await peer.ReturnCapAsync(identityQ, d => d.ReceiverHosted = exportId, inStruct: true);

        // We must embargo: Disembargo (senderLoopback) on the promised answer, then Finish.
        uint embargo;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Disembargo))
        {
            P.Disembargo.Reader d = m.GetRoot<P.Message.Reader>().Disembargo;
            Assert.Equal(P.Disembargo.Context.Which.SenderLoopback, d.Context.Which);
            embargo = d.Context.SenderLoopback;
            Assert.Equal(P.MessageTarget.Which.PromisedAnswer, d.Target.Which);
            Assert.Equal(identityQ, d.Target.PromisedAnswer.QuestionId);
        }
        (await peer.ExpectAsync(P.Message.Which.Finish)).Dispose();
        (await promise.Response.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        Assert.Equal(1, ours.Counts.Embargoes);

        // A call made now targets our own capability, but must wait behind "early".
        Task<RpcResponse> late = Echo(pipelined, "late").SendAsync();
        await Task.Delay(100);
        Assert.Empty(recorder.Snapshot());

        // The peer reflects "early" back to our export, then echoes the embargo.
        await peer.SendAsync(m =>
        {
            P.Call.Builder call = m.InitCall();
            call.QuestionId = 100;
            call.InterfaceId = TestServer.InterfaceId;
            call.MethodId = 0;
            call.InitTarget().ImportedCap = exportId;
            call.InitParams().Content.InitStruct(0, 1).SetText(0, "early");
        });
        await peer.SendAsync(m =>
        {
            P.Disembargo.Builder d = m.InitDisembargo();
            d.InitTarget().ImportedCap = exportId;
            P.Disembargo.Context.Builder c = d.Context;
            c.ReceiverLoopback = embargo;
        });
        (await late.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        Assert.Equal(["early", "late"], recorder.Snapshot());
        Assert.Equal(0, ours.Counts.Embargoes);
        GC.KeepAlive(early);
    }

    [Fact]
    public async Task ImportedPromiseFollowsItsResolveAndReleasesBoth()
    {
        var (ours, peer, remote) = await ConnectAsync();
        await using RpcConnection conn = ours;
        using Capability __ = remote;

        // makeCounter() answers with a promise (senderPromise 7).
        Task<RpcResponse> make;
        using (RpcRequest r = remote.NewRequest(TestServer.InterfaceId, 2))
        {
            make = r.SendAsync();
        }
        uint q;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            q = m.GetRoot<P.Message.Reader>().Call.QuestionId;
        }
        await peer.SendAsync(m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = q;
            r.ReleaseParamCaps = false;
            P.Payload.Builder p = r.InitResults();
            p.Content.InitStruct(0, 1).SetCapability(0, 0);
            P.CapDescriptor.Builder d = p.InitCapTable(1)[0];
            d.SenderPromise = 7;
        });
        using RpcResponse made = await make.WaitAsync(TimeSpan.FromSeconds(10));
        Capability promise = made.GetCapability(0)!;
        (await peer.ExpectAsync(P.Message.Which.Finish)).Dispose();

        // A call before the Resolve goes to the promise.
        Task<RpcResponse> before = Echo(promise, "before").SendAsync();
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            Assert.Equal(7u, m.GetRoot<P.Message.Reader>().Call.Target.ImportedCap);
        }

        // Resolve 7 -> senderHosted 8: the next call goes to 8.
        await peer.SendAsync(m =>
        {
            P.Resolve.Builder r = m.InitResolve();
            r.PromiseId = 7;
            P.CapDescriptor.Builder d = r.InitCap();
            d.SenderHosted = 8;
        });
        await Eventually(() => ours.Counts.Imports == 3, $"imports after Resolve: {ours.Counts}");
        Task<RpcResponse> after = Echo(promise, "after").SendAsync();
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            P.Call.Reader call = m.GetRoot<P.Message.Reader>().Call;
            Assert.Equal(P.MessageTarget.Which.ImportedCap, call.Target.Which);
            Assert.Equal(8u, call.Target.ImportedCap);
        }

        // Dropping every reference releases the promise and its resolution.
        promise.Dispose();
        made.Dispose();
        var released = new HashSet<uint>();
        while (released.Count < 2)
        {
            using MessageReader m = await peer.ExpectAsync(P.Message.Which.Release);
            released.Add(m.GetRoot<P.Message.Reader>().Release.Id);
        }
        Assert.Equal([7u, 8u], released.Order());
        GC.KeepAlive((before, after));
    }

    [Fact]
    public async Task ResolveOfASettledImportAborts()
    {
        var (ours, peer, remote) = await ConnectAsync();
        await using RpcConnection conn = ours;
        using Capability __ = remote;
        // Import 0 (the bootstrap) came as senderHosted: it can never be resolved.
        await peer.SendAsync(m =>
        {
            P.Resolve.Builder r = m.InitResolve();
            r.PromiseId = 0;
            r.InitException().SetReason("x");
        });
        while (true)
        {
            using MessageReader? m = await Framing.ReadMessageAsync(peer.Pipe.Input).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            P.Message.Reader r = m!.GetRoot<P.Message.Reader>();
            if (r.Which == P.Message.Which.Abort)
            {
                Assert.Contains("import 0", r.Abort.Reason.ToString());
                break;
            }
        }
        await ours.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ImportedPromiseResolvedToAnErrorFailsItsCalls()
    {
        var (ours, peer, remote) = await ConnectAsync();
        await using RpcConnection conn = ours;
        using Capability __ = remote;
        Task<RpcResponse> make;
        using (RpcRequest r = remote.NewRequest(TestServer.InterfaceId, 2))
        {
            make = r.SendAsync();
        }
        uint q;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            q = m.GetRoot<P.Message.Reader>().Call.QuestionId;
        }
        await peer.SendAsync(m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = q;
            r.ReleaseParamCaps = false;
            P.Payload.Builder p = r.InitResults();
            p.Content.InitStruct(0, 1).SetCapability(0, 0);
            P.CapDescriptor.Builder d = p.InitCapTable(1)[0];
            d.SenderPromise = 3;
        });
        using RpcResponse made = await make.WaitAsync(TimeSpan.FromSeconds(10));
        using Capability promise = made.GetCapability(0)!;
        await peer.SendAsync(m =>
        {
            P.Resolve.Builder r = m.InitResolve();
            r.PromiseId = 3;
            P.Exception.Builder e = r.InitException();
            e.Type = P.Exception.Type.Overloaded;
            e.SetReason("the promise broke");
        });
        await Eventually(() =>
        {
            Task<RpcResponse> t = Echo(promise, "x").SendAsync();
            return t.IsFaulted && t.Exception!.InnerException is RpcException { Type: RpcErrorType.Overloaded, Reason: "the promise broke" };
        }, "calls on the broken promise fail with its error");
    }

    [Fact]
    public async Task ResolveOfAPromiseWeReleasedReleasesTheResolution()
    {
        var (ours, peer, remote) = await ConnectAsync();
        await using RpcConnection conn = ours;
        using Capability __ = remote;
        Task<RpcResponse> make;
        using (RpcRequest r = remote.NewRequest(TestServer.InterfaceId, 2))
        {
            make = r.SendAsync();
        }
        uint q;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            q = m.GetRoot<P.Message.Reader>().Call.QuestionId;
        }
        await peer.SendAsync(m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = q;
            r.ReleaseParamCaps = false;
            P.Payload.Builder p = r.InitResults();
            p.Content.InitStruct(0, 1).SetCapability(0, 0);
            P.CapDescriptor.Builder d = p.InitCapTable(1)[0];
            d.SenderPromise = 4;
        });
        (await make.WaitAsync(TimeSpan.FromSeconds(10))).Dispose(); // drops the promise
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Release, P.Message.Which.Finish))
        {
            Assert.Equal(4u, m.GetRoot<P.Message.Reader>().Release.Id);
        }
        await peer.SendAsync(m =>
        {
            P.Resolve.Builder r = m.InitResolve();
            r.PromiseId = 4;
            P.CapDescriptor.Builder d = r.InitCap();
            d.SenderHosted = 9;
        });
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Release))
        {
            Assert.Equal(9u, m.GetRoot<P.Message.Reader>().Release.Id);
        }
        await Eventually(() => ours.Counts.Imports == 1, $"only the bootstrap import is left: {ours.Counts}");
    }

    [Fact]
    public async Task ImportedPromiseResolvingToOurCapabilityIsEmbargoed()
    {
        var recorder = new Recorder();
        using Capability local = Capability.FromServer(recorder);
        var (ours, peer, remote) = await ConnectAsync();
        await using RpcConnection conn = ours;
        using Capability __ = remote;

        // identity(local) answered with a promise (senderPromise 5); a call goes to the promise.
        RpcRequest identity = remote.NewRequest(TestServer.InterfaceId, 6);
        identity.Params.InitStruct(0, 1).SetCapability(0, identity.AddCapability(local));
        Task<RpcResponse> sent = identity.SendAsync();
        uint q, exportId;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            P.Call.Reader call = m.GetRoot<P.Message.Reader>().Call;
            q = call.QuestionId;
            exportId = call.Params.CapTable[0].SenderHosted;
        }
        await peer.SendAsync(m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = q;
            r.ReleaseParamCaps = false;
            P.Payload.Builder p = r.InitResults();
            p.Content.InitStruct(0, 1).SetCapability(0, 0);
            P.CapDescriptor.Builder d = p.InitCapTable(1)[0];
            d.SenderPromise = 5;
        });
        using RpcResponse response = await sent.WaitAsync(TimeSpan.FromSeconds(10));
        using Capability promise = response.GetCapability(0)!;
        Task<RpcResponse> early = Echo(promise, "early").SendAsync();
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call, P.Message.Which.Finish))
        {
            Assert.Equal(5u, m.GetRoot<P.Message.Reader>().Call.Target.ImportedCap);
        }

        // Resolve 5 -> our own export: we embargo (Disembargo on import 5) before calling it directly.
        await peer.SendAsync(m =>
        {
            P.Resolve.Builder r = m.InitResolve();
            r.PromiseId = 5;
            P.CapDescriptor.Builder d = r.InitCap();
            d.ReceiverHosted = exportId;
        });
        uint embargo;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Disembargo))
        {
            P.Disembargo.Reader d = m.GetRoot<P.Message.Reader>().Disembargo;
            Assert.Equal(5u, d.Target.ImportedCap);
            embargo = d.Context.SenderLoopback;
        }
        Task<RpcResponse> late = Echo(promise, "late").SendAsync();
        await Task.Delay(100);
        Assert.Empty(recorder.Snapshot());
        await peer.SendAsync(m =>
        {
            P.Call.Builder call = m.InitCall();
            call.QuestionId = 50;
            call.InterfaceId = TestServer.InterfaceId;
            call.InitTarget().ImportedCap = exportId;
            call.InitParams().Content.InitStruct(0, 1).SetText(0, "early");
        });
        await peer.SendAsync(m =>
        {
            P.Disembargo.Builder d = m.InitDisembargo();
            d.InitTarget().ImportedCap = exportId;
            P.Disembargo.Context.Builder c = d.Context;
            c.ReceiverLoopback = embargo;
        });
        (await late.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        Assert.Equal(["early", "late"], recorder.Snapshot());
        GC.KeepAlive(early);
    }

    [Fact]
    public async Task ALocalPromiseIsExportedAsSenderPromiseThenResolved()
    {
        var (ours, peer, remote) = await ConnectAsync();
        await using RpcConnection conn = ours;
        using Capability __ = remote;

        // A promise of ours: the capability in the results of a local call that has not finished.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using Capability maker = Capability.FromServer(new GatedMaker(gate.Task));
        RpcPromise pending = maker.NewRequest(TestServer.InterfaceId, 2).Send();
        using Capability promised = pending.GetPipelinedCapability(0);

        // Pass it to the peer (callBack(promised, "x")).
        RpcRequest call = remote.NewRequest(TestServer.InterfaceId, 3);
        StructBuilder p = call.Params.InitStruct(0, 2);
        p.SetCapability(0, call.AddCapability(promised));
        p.SetText(1, "x");
        Task<RpcResponse> callTask = call.SendAsync();
        uint promiseId;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            P.CapDescriptor.Reader d = m.GetRoot<P.Message.Reader>().Call.Params.CapTable[0];
            Assert.Equal(P.CapDescriptor.Which.SenderPromise, d.Which);
            promiseId = d.SenderPromise;
        }

        // The local call finishes: the peer is told what the promise became.
        gate.SetResult();
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Resolve))
        {
            P.Resolve.Reader r = m.GetRoot<P.Message.Reader>().Resolve;
            Assert.Equal(promiseId, r.PromiseId);
            Assert.Equal(P.Resolve.Which.Cap, r.Which);
            Assert.Equal(P.CapDescriptor.Which.SenderHosted, r.Cap.Which);
            Assert.NotEqual(promiseId, r.Cap.SenderHosted);
        }
        (await pending.Response).Dispose();
    }

    [Fact]
    public async Task APipelinedCapabilityGoesBackToItsHostAsReceiverAnswer()
    {
        var (ours, peer, remote) = await ConnectAsync();
        await using RpcConnection conn = ours;
        using Capability __ = remote;
        RpcPromise make = remote.NewRequest(TestServer.InterfaceId, 2).Send();
        using Capability counter = make.GetPipelinedCapability(0);
        RpcRequest call = remote.NewRequest(TestServer.InterfaceId, 6);
        call.Params.InitStruct(0, 1).SetCapability(0, call.AddCapability(counter));
        Task<RpcResponse> callTask = call.SendAsync();
        uint makeQ;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            makeQ = m.GetRoot<P.Message.Reader>().Call.QuestionId;
        }
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            P.CapDescriptor.Reader d = m.GetRoot<P.Message.Reader>().Call.Params.CapTable[0];
            Assert.Equal(P.CapDescriptor.Which.ReceiverAnswer, d.Which);
            Assert.Equal(makeQ, d.ReceiverAnswer.QuestionId);
            Assert.Equal(0, d.ReceiverAnswer.Transform[0].GetPointerField);
        }
        Assert.Equal(0, ours.Counts.Exports); // nothing of ours was exported for it
    }

    [Fact]
    public async Task ReceiverAnswerFromThePeerNamesItsPendingCallToUs()
    {
        var (a, b) = DuplexPipe.CreatePair();
        using Capability bootstrap = Capability.FromServer(new TestServer());
        await using var ours = new RpcConnection(a, bootstrap);
        ours.Start();
        var peer = new Peer(b);
        await peer.SendAsync(m => m.InitBootstrap().QuestionId = 0);
        // 1: makeCounter() on the bootstrap; 2: callBack(receiverAnswer{1, [0]}, "hi") before 1 returns.
        await peer.SendAsync(m =>
        {
            P.Call.Builder c = m.InitCall();
            c.QuestionId = 1;
            c.InterfaceId = TestServer.InterfaceId;
            c.MethodId = 2;
            c.InitTarget().InitPromisedAnswer().QuestionId = 0;
            c.InitParams();
        });
        await peer.SendAsync(m =>
        {
            P.Call.Builder c = m.InitCall();
            c.QuestionId = 2;
            c.InterfaceId = TestServer.InterfaceId;
            c.MethodId = 3;
            c.InitTarget().InitPromisedAnswer().QuestionId = 0;
            P.Payload.Builder p = c.InitParams();
            StructBuilder s = p.Content.InitStruct(0, 2);
            s.SetCapability(0, 0);
            s.SetText(1, "hi");
            P.PromisedAnswer.Builder pa = p.InitCapTable(1)[0].InitReceiverAnswer();
            pa.QuestionId = 1;
            P.PromisedAnswer.Op.Builder op = pa.InitTransform(1)[0];
            op.GetPointerField = 0;
        });
        while (true)
        {
            using MessageReader m = await peer.NextAsync();
            P.Message.Reader r = m.GetRoot<P.Message.Reader>();
            if (r.Which == P.Message.Which.Return && r.Return.AnswerId == 2)
            {
                Assert.Equal(P.Return.Which.Results, r.Return.Which);
                Assert.Equal("called back: hi", r.Return.Results.Content.GetStruct().ReadText(0).ToString());
                break;
            }
        }
    }

    [Fact]
    public async Task ACallRedirectedBackToUsTakesTheResultsWeKept()
    {
        using Capability ourBootstrap = Capability.FromServer(new TestServer());
        var (ours, peer, remote) = await ConnectAsync(ourBootstrap);
        await using RpcConnection conn = ours;
        using Capability __ = remote;

        // We call the peer; the peer (as the C++ implementation does for a call that loops back)
        // makes the call on us with sendResultsTo.yourself, then returns takeFromOtherQuestion.
        Task<RpcResponse> ours1 = Echo(remote, "original").SendAsync();
        uint q;
        using (MessageReader m = await peer.ExpectAsync(P.Message.Which.Call))
        {
            q = m.GetRoot<P.Message.Reader>().Call.QuestionId;
        }
        await peer.SendAsync(m => m.InitBootstrap().QuestionId = 0);
        await peer.SendAsync(m =>
        {
            P.Call.Builder c = m.InitCall();
            c.QuestionId = 1;
            c.InterfaceId = TestServer.InterfaceId;
            c.MethodId = 0;
            c.InitTarget().InitPromisedAnswer().QuestionId = 0;
            c.InitParams().Content.InitStruct(0, 1).SetText(0, "redirected");
            c.SendResultsTo.SetYourself();
        });
        while (true)
        {
            using MessageReader m = await peer.ExpectAsync(P.Message.Which.Return);
            P.Return.Reader r = m.GetRoot<P.Message.Reader>().Return;
            if (r.AnswerId == 1)
            {
                Assert.Equal(P.Return.Which.ResultsSentElsewhere, r.Which);
                break;
            }
        }
        await peer.SendAsync(m =>
        {
            P.Return.Builder r = m.InitReturn();
            r.AnswerId = q;
            r.ReleaseParamCaps = false;
            r.TakeFromOtherQuestion = 1;
        });
        using RpcResponse response = await ours1.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("redirected", response.Results.GetStruct().ReadText(0).ToString());
        await peer.SendAsync(m => m.InitFinish().QuestionId = 1);
        await peer.SendAsync(m => m.InitFinish().QuestionId = 0);
        await Eventually(() => ours.Counts.Answers == 0, $"answers: {ours.Counts}");
    }

    /// <summary>makeCounter (method 2) that answers only once a gate opens.</summary>
    private sealed class GatedMaker(Task gate) : IRpcServer
    {
        public async ValueTask DispatchAsync(CallContext c)
        {
            await gate;
            using Capability counter = Capability.FromServer(new TestServer());
            c.Results.InitStruct(0, 1).SetCapability(0, c.AddResultCapability(counter));
        }
    }
}
