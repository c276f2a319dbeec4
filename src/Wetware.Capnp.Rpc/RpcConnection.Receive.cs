using System.Buffers;
using System.IO.Pipelines;
using P = Wetware.Capnp.Rpc.Protocol;

namespace Wetware.Capnp.Rpc;

public sealed partial class RpcConnection
{
    /// <summary>A protocol violation by the peer: the connection is aborted with this reason.</summary>
    private sealed class ProtocolViolation(string reason) : Exception(reason);

    /// <summary>One of the peer's calls to us; canceled (as a <see cref="CallCancellation"/>) by an early Finish or the connection's end.</summary>
    private sealed class Answer : CallCancellation
    {
        /// <summary>The question id, set when the Return is sent.</summary>
        public uint Id;
        public bool Returned;
        public bool Finished;

        /// <summary>Export ids the Return handed out, released if the caller finishes with releaseResultCaps.</summary>
        public List<uint>? ExportedCaps;

        // What calls pipelined on this answer (promisedAnswer targets) resolve against, kept until Finish.
        public bool HasOutcome;
        public AnyPointerReader Content;
        public CapabilityHook?[] Caps = [];
        public RpcException? Error;
        public MessageBuilder? Message;

        /// <summary>Pipelined calls that arrived before the outcome, delivered in arrival order.</summary>
        public List<Action>? Pending;

        /// <summary>The call said sendResultsTo.yourself: the results stay here (Return says resultsSentElsewhere) for the peer to take as another question's.</summary>
        public bool ResultsToYourself;

        /// <summary>A Return of ours took these results (takeFromOtherQuestion), which may happen once.</summary>
        public bool Taken;
    }

    /// <summary>Records an answer's outcome and delivers the calls pipelined on it, in order.</summary>
    private void SetOutcome(Answer answer, AnyPointerReader content, CapabilityHook?[] caps, RpcException? error, MessageBuilder? message)
    {
        List<Action>? pending;
        lock (_sync)
        {
            answer.HasOutcome = true;
            answer.Content = content;
            answer.Caps = caps;
            answer.Error = error;
            answer.Message = message;
            pending = answer.Pending;
            answer.Pending = null;
        }
        if (pending is not null)
        {
            foreach (Action deliver in pending)
            {
                deliver();
            }
        }
    }

    /// <summary>Releases what an answer kept for pipelining, once the caller has finished with it.</summary>
    private void DropAnswer(Answer answer)
    {
        CapabilityHook?[] caps = answer.Caps;
        answer.Caps = [];
        foreach (CapabilityHook? h in caps)
        {
            h?.Release();
        }
        if (answer.Message is { } reply)
        {
            _messages.Return(reply);
        }
        answer.Message = null;
        answer.DisposeCancellation();
    }

    /// <summary>The capability a pipelined call targets: the transform's pointer path into the answer's results.</summary>
    private static CapabilityHook TargetIn(Answer answer, int[] path)
    {
        if (answer.Error is { } error)
        {
            return new BrokenCapability(error);
        }
        try
        {
            AnyPointerReader p = answer.Content;
            foreach (int field in path)
            {
                p = p.GetStruct().ReadAnyPointer(field);
            }
            uint? index = p.GetCapability();
            CapabilityHook? h = index is uint i && i < answer.Caps.Length ? answer.Caps[i] : null;
            if (h is null)
            {
                return new BrokenCapability(new RpcException(RpcErrorType.Failed, "the pipelined call's target is not a capability in the results"));
            }
            h.AddRef();
            return h;
        }
        catch (CapnpException e)
        {
            return new BrokenCapability(new RpcException(RpcErrorType.Failed, $"the pipelined call's target path is invalid: {e.Message}"));
        }
    }

    private async Task ReadLoopAsync()
    {
        RpcException reason = new(RpcErrorType.Disconnected, "the peer closed the connection");
        try
        {
            await ReadMessagesAsync(_transport.Input).ConfigureAwait(false);
        }
        catch (ProtocolViolation e)
        {
            reason = new RpcException(RpcErrorType.Failed, $"protocol violation by the peer: {e.Message}");
            await SendAbortAsync(reason.Reason).ConfigureAwait(false);
        }
        catch (CapnpException e)
        {
            reason = new RpcException(RpcErrorType.Failed, $"bad message from the peer: {e.Message}");
            await SendAbortAsync(reason.Reason).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.Type == RpcErrorType.Disconnected)
        {
            reason = e;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            reason = new RpcException(RpcErrorType.Disconnected, $"connection lost: {e.Message}");
        }
        catch (Exception e)
        {
            // A bug of ours must not leave a connection that silently stops reading.
            reason = new RpcException(RpcErrorType.Failed, $"internal error handling a message: {e.GetType().Name}: {e.Message}");
            await SendAbortAsync(reason.Reason).ConfigureAwait(false);
        }
        Close(reason);
        await _transport.Input.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Handles messages until the peer closes the stream. Every whole message of a read is handled
    /// before the next read, with the writer corked, so the replies they cause (Returns, Finishes)
    /// go out together, in one flush, once the read's messages are handled.
    /// </summary>
    private async Task ReadMessagesAsync(PipeReader input)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync().ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            _writer.Cork();
            try
            {
                while (_received.TryRead(ref buffer, out ReceivedMessage? message))
                {
                    Handle(message!);
                }
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                _writer.Uncork();
            }
            if (result.IsCanceled)
            {
                throw new OperationCanceledException("the read was canceled");
            }
            if (result.IsCompleted)
            {
                if (buffer.Length == 0)
                {
                    return;
                }
                throw new CapnpFormatException($"stream ended inside a message ({buffer.Length} bytes of it received)");
            }
        }
    }

    /// <summary>Handles one message. Takes ownership of <paramref name="message"/>.</summary>
    private void Handle(ReceivedMessage message)
    {
        bool keep = false;
        try
        {
            if (_closed is { } closed)
            {
                // Closed while a read's messages were being handled: the rest are not for us anymore.
                throw new RpcException(RpcErrorType.Disconnected, closed.Reason);
            }
            P.Message.Reader m = message.Reader.GetRoot<P.Message.Reader>();
            switch (m.Which)
            {
                case P.Message.Which.Bootstrap:
                    HandleBootstrap(m.Bootstrap);
                    break;
                case P.Message.Which.Call:
                    keep = HandleCall(m.Call, message);
                    break;
                case P.Message.Which.Return:
                    keep = HandleReturn(m.Return, message);
                    break;
                case P.Message.Which.Finish:
                    HandleFinish(m.Finish);
                    break;
                case P.Message.Which.Release:
                    HandleRelease(m.Release);
                    break;
                case P.Message.Which.Abort:
                    throw new RpcException(RpcErrorType.Disconnected, $"the peer aborted the connection: {m.Abort.Reason}");
                case P.Message.Which.Unimplemented:
                    HandleUnimplemented(m.Unimplemented);
                    break;
                case P.Message.Which.Disembargo:
                    HandleDisembargo(m.Disembargo);
                    break;
                case P.Message.Which.Resolve:
                    HandleResolve(m.Resolve);
                    break;
                default:
                    // Messages of levels we do not implement get echoed back (rpc.capnp, Unimplemented).
                    _ = ReplyUnimplementedAsync(m);
                    break;
            }
        }
        finally
        {
            if (!keep)
            {
                message.Dispose();
            }
        }
    }

    /// <summary>
    /// rpc.capnp, Disembargo: the peer pipelined calls on a promise that resolved to a capability it
    /// hosts itself, and asks us to echo this once those calls have passed through (senderLoopback).
    /// </summary>
    private void HandleDisembargo(P.Disembargo.Reader d)
    {
        P.Disembargo.Context.Reader context = d.Context;
        P.MessageTarget.Reader t = d.Target;
        switch (context.Which)
        {
            case P.Disembargo.Context.Which.ReceiverLoopback:
                {
                    // The peer echoed one of our embargoes: the calls it reflected have all arrived.
                    TaskCompletionSource? embargo;
                    lock (_sync)
                    {
                        embargo = _embargoes.Find(context.ReceiverLoopback);
                        if (embargo is null)
                        {
                            throw new ProtocolViolation($"Disembargo (receiverLoopback) for embargo {context.ReceiverLoopback}, which we never sent");
                        }
                        _embargoes.Remove(context.ReceiverLoopback);
                    }
                    embargo.TrySetResult();
                    return;
                }
            case P.Disembargo.Context.Which.SenderLoopback:
                break;
            default:
                throw new ProtocolViolation($"Disembargo of kind {context.Which} (Level 3) on a two-party connection");
        }
        uint embargoId = context.SenderLoopback;
        if (t.Which == P.MessageTarget.Which.ImportedCap)
        {
            // An export of ours that was a promise and resolved to the peer's own capability: echo once
            // the calls it forwarded to the peer are on their way.
            CapabilityHook hook;
            lock (_sync)
            {
                Export? e = _exports.Find(t.ImportedCap);
                if (e is null)
                {
                    throw new ProtocolViolation($"Disembargo targets export {t.ImportedCap}, which does not exist");
                }
                hook = e.Hook;
                hook.AddRef();
            }
            Task drained = hook is PromisedCapability promise ? promise.Drained : Task.CompletedTask;
            _ = ReplyLoopbackAsync(hook, embargoId, drained);
            return;
        }
        if (t.Which != P.MessageTarget.Which.PromisedAnswer)
        {
            throw new ProtocolViolation($"Disembargo with an unknown target kind {t.Which}");
        }
        P.PromisedAnswer.Reader pa = t.PromisedAnswer;
        int[] path = PathOf(pa);
        Answer? ready;
        lock (_sync)
        {
            if (!_answers.TryGetValue(pa.QuestionId, out Answer? answer) || answer.Finished)
            {
                throw new ProtocolViolation($"Disembargo targets question {pa.QuestionId}, which is not an outstanding answer");
            }
            if (!answer.HasOutcome)
            {
                // After the calls pipelined before it, in order.
                (answer.Pending ??= []).Add(() =>
                {
                    CapabilityHook late;
                    lock (_sync)
                    {
                        late = TargetIn(answer, path);
                    }
                    _ = ReplyLoopbackAsync(late, embargoId, Task.CompletedTask);
                });
                return;
            }
            ready = answer;
        }
        CapabilityHook target;
        lock (_sync)
        {
            target = TargetIn(ready, path);
        }
        _ = ReplyLoopbackAsync(target, embargoId, Task.CompletedTask);
    }

    /// <summary>Answers a senderLoopback Disembargo with receiverLoopback, addressed to where <paramref name="target"/> (owned) points back at the peer.</summary>
    private async Task ReplyLoopbackAsync(CapabilityHook target, uint embargo, Task drained)
    {
        try
        {
            await drained.ConfigureAwait(false);
            CapabilityHook h = CapabilityHook.Shorten(target);
            using var m = new MessageBuilder(16);
            P.Disembargo.Builder reply = m.InitRoot<P.Message.Builder>().InitDisembargo();
            P.MessageTarget.Builder rt = reply.InitTarget();
            if (h is ImportedCapability imp && imp.Connection == this)
            {
                rt.ImportedCap = imp.ImportId;
            }
            else if (h is PipelinedCapability p && p.Connection == this)
            {
                WritePromisedAnswer(rt.InitPromisedAnswer(), p.QuestionId, p.Path);
            }
            else
            {
                await SendAbortAsync("Disembargo (senderLoopback) of a capability that does not point back at the sender").ConfigureAwait(false);
                Close(new RpcException(RpcErrorType.Failed, "protocol violation by the peer: Disembargo of a capability that is not its own"));
                return;
            }
            P.Disembargo.Context.Builder rc = reply.Context;
            rc.ReceiverLoopback = embargo;
            await SendAsync(m).ConfigureAwait(false);
        }
        catch (RpcException)
        {
        }
        finally
        {
            target.Release();
        }
    }

    private async Task ReplyUnimplementedAsync(P.Message.Reader m)
    {
        using var reply = new MessageBuilder();
        reply.InitRoot<P.Message.Builder>().SetUnimplemented(m);
        try
        {
            await SendAsync(reply).ConfigureAwait(false);
        }
        catch (RpcException)
        {
        }
    }

    private void HandleBootstrap(P.Bootstrap.Reader b)
    {
        uint id = b.QuestionId;
        var answer = new Answer();
        lock (_sync)
        {
            if (_closed is { } closed)
            {
                // Closed from another thread (the writer's unread limit) since this message's handling began:
                // the tables are cleared for good, nothing may enter them again.
                throw new RpcException(RpcErrorType.Disconnected, closed.Reason);
            }
            if (!_answers.TryAdd(id, answer))
            {
                throw new ProtocolViolation($"Bootstrap reuses question id {id}, which is still in use");
            }
        }
        MessageBuilder reply = _messages.Rent();
        P.Return.Builder r = reply.InitRoot<P.Message.Builder>().InitReturn();
        r.AnswerId = id;
        r.ReleaseParamCaps = false; // we release param caps one by one (Release), as the C++ implementation does
        if (_bootstrap is null)
        {
            WriteException(r.InitException(), new RpcException(RpcErrorType.Failed, _options.NoBootstrapReason));
        }
        else
        {
            P.Payload.Builder payload = r.InitResults();
            payload.Content.SetCapability(0);
            lock (_sync)
            {
                WriteCapTable(payload, [_bootstrap]);
                answer.ExportedCaps = [payload.AsReader().CapTable[0].SenderHosted];
            }
            _bootstrap.AddRef();
            // The outcome reads the reply's own segments: the answer keeps the reply until Finish.
            SetOutcome(answer, payload.AsReader().Content, [_bootstrap], null, reply);
        }
        _ = SendReturnAsync(id, answer, reply);
    }

    private bool HandleCall(P.Call.Reader call, ReceivedMessage message)
    {
        uint id = call.QuestionId;
        var answer = new Answer();
        switch (call.SendResultsTo.Which)
        {
            case P.Call.SendResultsTo.Which.Caller:
                break;
            case P.Call.SendResultsTo.Which.Yourself:
                answer.ResultsToYourself = true;
                break;
            default:
                throw new ProtocolViolation($"Call {id} sends its results to a third party (Level 3) on a two-party connection");
        }
        CapabilityHook target;
        lock (_sync)
        {
            if (_closed is { } closed)
            {
                // Closed from another thread (the writer's unread limit) since this message's handling began:
                // the tables are cleared for good, nothing may enter them again.
                throw new RpcException(RpcErrorType.Disconnected, closed.Reason);
            }
            if (!_answers.TryAdd(id, answer))
            {
                throw new ProtocolViolation($"Call reuses question id {id}, which is still in use");
            }
            P.MessageTarget.Reader t = call.Target;
            if (t.Which == P.MessageTarget.Which.PromisedAnswer)
            {
                P.PromisedAnswer.Reader pa = t.PromisedAnswer;
                if (!_answers.TryGetValue(pa.QuestionId, out Answer? promised) || promised.Finished)
                {
                    throw new ProtocolViolation($"Call pipelined on question {pa.QuestionId}, which is not an outstanding answer");
                }
                int[] path = PathOf(pa);
                if (!promised.HasOutcome)
                {
                    // E-order: delivered in arrival order once the answer has its results.
                    (promised.Pending ??= []).Add(StartLater(id, answer, promised, path, call, message));
                    return true;
                }
                target = TargetIn(promised, path);
            }
            else if (t.Which == P.MessageTarget.Which.ImportedCap)
            {
                Export? e = _exports.Find(t.ImportedCap);
                if (e is null)
                {
                    throw new ProtocolViolation($"Call targets export {t.ImportedCap}, which does not exist");
                }
                target = e.Hook;
                target.AddRef();
            }
            else
            {
                throw new ProtocolViolation($"Call has an unknown target kind {t.Which}");
            }
        }
        StartCall(id, answer, target, call, message);
        return true;
    }

    /// <summary>A call pipelined on an answer without an outcome yet, to start once it has one (a method of its own, so other calls allocate no closure).</summary>
    private Action StartLater(uint id, Answer answer, Answer promised, int[] path, P.Call.Reader call, ReceivedMessage message) => () =>
    {
        CapabilityHook late;
        lock (_sync)
        {
            late = TargetIn(promised, path);
        }
        StartCall(id, answer, late, call, message);
    };

    private static int[] PathOf(P.PromisedAnswer.Reader pa)
    {
        StructList<P.PromisedAnswer.Op.Reader> ops = pa.Transform;
        var path = new List<int>(ops.Count);
        foreach (P.PromisedAnswer.Op.Reader op in ops)
        {
            if (op.Which == P.PromisedAnswer.Op.Which.GetPointerField)
            {
                path.Add(op.GetPointerField);
            }
        }
        return [.. path];
    }

    /// <summary>Dispatches a call whose target is known. Takes ownership of <paramref name="message"/> and a reference to <paramref name="target"/>.</summary>
    private void StartCall(uint id, Answer answer, CapabilityHook target, P.Call.Reader call, ReceivedMessage message)
    {
        if (_answers.Count > _options.MaxQuestions)
        {
            target.Release();
            message.Dispose();
            SetOutcome(answer, default, [], new RpcException(RpcErrorType.Overloaded, $"too many calls in flight (limit {_options.MaxQuestions})"), null);
            _ = ReturnExceptionAsync(id, answer, answer.Error!);
            return;
        }
        CapabilityHook?[] paramCaps;
        try
        {
            paramCaps = ReadCapTable(call.Params);
        }
        catch
        {
            target.Release();
            message.Dispose();
            throw;
        }
        _ = DispatchAsync(id, answer, target, call, paramCaps, message);
    }

    private async Task DispatchAsync(uint id, Answer answer, CapabilityHook target, P.Call.Reader call, CapabilityHook?[] paramCaps, ReceivedMessage message)
    {
        MessageBuilder reply = _messages.Rent();
        P.Return.Builder r = reply.InitRoot<P.Message.Builder>().InitReturn();
        r.AnswerId = id;
        r.ReleaseParamCaps = false; // we release param caps one by one (Release), as the C++ implementation does
        P.Payload.Builder payload = default;
        CallContext? context = null;
        try
        {
            // Guards (Capability.Guard) check here, then the call goes to what they wrap, uncopied.
            while (target is GuardedCapability guard)
            {
                if (guard.Check() is { } denied)
                {
                    throw denied;
                }
                CapabilityHook inner = guard.Inner;
                inner.AddRef();
                target.Release();
                target = inner;
            }
            if (target is LocalCapability local)
            {
                // The results are initialized up front (a Return carries them even if the server writes none).
                payload = r.InitResults();
                context = new CallContext(call.InterfaceId, call.MethodId, call.Params.Content, paramCaps, payload.Content, answer, _options.Peer);
                await local.Server.DispatchAsync(context).ConfigureAwait(false);
                ExportResults(answer, payload, context.ResultCaps);
                SetOutcome(answer, payload.AsReader().Content, context.TakeResultCaps(), null, reply); // the answer owns them now
            }
            else
            {
                // Forward to another capability (an import of another connection, a broken one...).
                RpcRequest forwarded = target.NewRequest(call.InterfaceId, call.MethodId);
                forwarded.Params.Set(call.Params.Content);
                foreach (CapabilityHook? h in paramCaps)
                {
                    if (h is not null)
                    {
                        h.AddRef();
                        forwarded.Caps.Add(h);
                    }
                }
                using RpcResponse response = await forwarded.SendAsync(answer.Token).ConfigureAwait(false);
                payload = r.InitResults();
                payload.Content.Set(response.Results);
                var caps = new List<CapabilityHook>();
                for (uint i = 0; i < response.CapabilityCount; i++)
                {
                    Capability? c = response.GetCapability(i);
                    caps.Add(c?.Hook ?? new BrokenCapability(new RpcException(RpcErrorType.Failed, "null capability")));
                }
                ExportResults(answer, payload, caps);
                SetOutcome(answer, payload.AsReader().Content, [.. caps], null, reply);
            }
        }
        catch (Exception e)
        {
            _messages.Return(reply);
            reply = _messages.Rent();
            P.Return.Builder er = reply.InitRoot<P.Message.Builder>().InitReturn();
            er.AnswerId = id;
            er.ReleaseParamCaps = false;
            RpcException error = RpcException.From(e);
            if (e is OperationCanceledException && answer.IsCancellationRequested)
            {
                // The caller sent Finish and the work stopped: rpc.capnp's Return.canceled.
                er.SetCanceled();
            }
            else
            {
                WriteException(er.InitException(), error);
            }
            SetOutcome(answer, default, [], error, null);
        }
        finally
        {
            if (context is not null)
            {
                context.ReleaseResultCaps();
                context.ReleaseParamCaps();
            }
            else
            {
                foreach (CapabilityHook? h in paramCaps)
                {
                    h?.Release();
                }
            }
            target.Release();
            message.Dispose();
        }
        // Not awaited: a call served synchronously then completes synchronously (no state machine on the heap).
        _ = SendReturnAsync(id, answer, reply);
    }

    /// <summary>Describes the results' capabilities to the peer, unless the results stay here (sendResultsTo.yourself).</summary>
    private void ExportResults(Answer answer, P.Payload.Builder payload, List<CapabilityHook>? caps)
    {
        if (answer.ResultsToYourself)
        {
            return;
        }
        lock (_sync)
        {
            WriteCapTable(payload, caps);
            answer.ExportedCaps = caps is { Count: > 0 } ? ExportIds(payload) : null;
        }
    }

    /// <summary>The export ids a payload's cap table hands out, or null for none.</summary>
    private static List<uint>? ExportIds(P.Payload.Builder payload)
    {
        List<uint>? ids = null;
        foreach (P.CapDescriptor.Reader d in payload.AsReader().CapTable)
        {
            if (d.Which == P.CapDescriptor.Which.SenderHosted)
            {
                (ids ??= []).Add(d.SenderHosted);
            }
        }
        return ids;
    }

    private Task ReturnExceptionAsync(uint id, Answer answer, RpcException error)
    {
        MessageBuilder reply = _messages.Rent();
        P.Return.Builder r = reply.InitRoot<P.Message.Builder>().InitReturn();
        r.AnswerId = id;
        r.ReleaseParamCaps = false; // we release param caps one by one (Release), as the C++ implementation does
        WriteException(r.InitException(), error);
        return SendReturnAsync(id, answer, reply);
    }

    /// <summary>Sends a Return. The message is queued (posted), so the returned task is already complete.</summary>
    private Task SendReturnAsync(uint id, Answer answer, MessageBuilder reply)
    {
        answer.Id = id;
        if (answer.ResultsToYourself && answer.HasOutcome && answer.Error is null)
        {
            // The results stay with the answer for the peer to take; the Return only says so.
            MessageBuilder elsewhere = _messages.Rent();
            P.Return.Builder r = elsewhere.InitRoot<P.Message.Builder>().InitReturn();
            r.AnswerId = id;
            r.ReleaseParamCaps = false;
            r.SetResultsSentElsewhere();
            _writer.Post(elsewhere, _returnWritten ??= ReturnWritten, answer);
            if (!ReferenceEquals(answer.Message, reply))
            {
                _messages.Return(reply);
            }
            return Task.CompletedTask;
        }
        // An answer that keeps its reply (for calls pipelined on it) recycles it at Finish; otherwise the writer does once it is written.
        _writer.Post(reply, _returnWritten ??= ReturnWritten, answer, keep: ReferenceEquals(answer.Message, reply));
        return Task.CompletedTask;
    }

    private Action<object?>? _returnWritten;

    /// <summary>Returned is set as the bytes go out: the peer may Finish (and reuse the id) as soon as it reads them.</summary>
    private void ReturnWritten(object? state)
    {
        var answer = (Answer)state!;
        bool drop = false;
        lock (_sync)
        {
            answer.Returned = true;
            if (answer.Finished && _answers.TryGetValue(answer.Id, out Answer? current) && current == answer)
            {
                _answers.Remove(answer.Id);
                drop = true;
            }
        }
        if (drop)
        {
            DropAnswer(answer);
        }
    }

    private static void WriteException(P.Exception.Builder e, RpcException error)
    {
        e.Type = (P.Exception.Type)(ushort)error.Type;
        e.SetReason(error.Reason);
    }

    private bool HandleReturn(P.Return.Reader r, ReceivedMessage message)
    {
        uint id = r.AnswerId;
        Question? q;
        bool sendFinish;
        List<CapabilityHook>? releasedParams = null;
        lock (_sync)
        {
            q = _questions.Find(id);
            if (q is null || q.Returned)
            {
                throw new ProtocolViolation($"Return for question {id}, which is not outstanding");
            }
            q.Returned = true;
            sendFinish = !q.FinishSent;
            q.FinishSent = true;
            if (!sendFinish)
            {
                _questions.Remove(id); // canceled earlier: Finish is already out
            }
        }
        RpcResponse? response = null;
        RpcException? error = null;
        switch (r.Which)
        {
            case P.Return.Which.Results:
                response = new RpcResponse(r.Results.Content, ReadCapTable(r.Results), message);
                break;
            case P.Return.Which.Exception:
                error = new RpcException((RpcErrorType)Math.Min((ushort)r.Exception.Type, (ushort)3), r.Exception.Reason.ToString());
                break;
            case P.Return.Which.Canceled:
                error = new RpcException(RpcErrorType.Failed, "the call was canceled");
                break;
            case P.Return.Which.TakeFromOtherQuestion:
                break;
            default:
                error = new RpcException(RpcErrorType.Unimplemented, $"unsupported Return kind {r.Which}");
                break;
        }
        lock (_sync)
        {
            // rpc.capnp, Return.releaseParamCaps: the caps we sent in the params count as released
            // (after the results are read, which may name them as receiverHosted).
            if (r.ReleaseParamCaps && q.ParamExports is { } exported)
            {
                foreach (uint e in exported)
                {
                    if (ReleaseExport(e, 1) is { } h)
                    {
                        (releasedParams ??= []).Add(h);
                    }
                }
            }
            q.ParamExports = null;
        }
        if (releasedParams is not null)
        {
            foreach (CapabilityHook h in releasedParams)
            {
                h.Release();
            }
        }
        if (r.Which == P.Return.Which.TakeFromOtherQuestion)
        {
            // rpc.capnp, Return.takeFromOtherQuestion: the results are those of a call the peer made
            // to us with sendResultsTo.yourself (it redirected our call back to us).
            TakeResults(q, id, sendFinish, r.TakeFromOtherQuestion);
            return false;
        }
        Complete(q, id, sendFinish, response, error);
        return response is not null;
    }

    /// <summary>Completes question <paramref name="id"/> with the results an answer of ours kept (sendResultsTo.yourself), now or once they exist.</summary>
    private void TakeResults(Question q, uint id, bool sendFinish, uint answerId)
    {
        Answer? other;
        lock (_sync)
        {
            if (!_answers.TryGetValue(answerId, out other) || !other.ResultsToYourself || other.Taken)
            {
                throw new ProtocolViolation($"Return takes the results of question {answerId}, which is not an answer of ours kept for the peer");
            }
            other.Taken = true;
            if (!other.HasOutcome)
            {
                (other.Pending ??= []).Add(() => Take());
                return;
            }
        }
        Take();

        void Take()
        {
            RpcResponse? response = null;
            RpcException? error;
            lock (_sync)
            {
                error = other.Error;
                if (error is null)
                {
                    // A copy: the answer's own message goes when the peer finishes it.
                    var copy = new MessageBuilder();
                    copy.Root.Set(other.Content);
                    var caps = new CapabilityHook?[other.Caps.Length];
                    for (int i = 0; i < caps.Length; i++)
                    {
                        caps[i] = other.Caps[i];
                        caps[i]?.AddRef();
                    }
                    response = new RpcResponse(copy.AsReader().Root, caps, copy);
                }
            }
            Complete(q, id, sendFinish, response, error);
        }
    }

    /// <summary>Shared and never added to: a question without pipelines iterates it instead of a new empty list.</summary>
    private static readonly List<PipelinedCapability> NoPipelines = [];

    /// <summary>The second half of a Return: resolves the question's pipelines, sends Finish, and hands over the outcome.</summary>
    private void Complete(Question q, uint id, bool sendFinish, RpcResponse? response, RpcException? error)
    {
        // Capabilities pipelined on this question now point at what it resolved to. One that resolved
        // to a capability of ours, after calls went out through the peer, waits (an embargo) until
        // the peer has reflected those calls back, so later calls cannot overtake them (E-order).
        List<PipelinedCapability>? pipelines;
        lock (_sync)
        {
            pipelines = q.Pipelines;
            q.Pipelines = null;
        }
        List<CapabilityHook>? dropped = null;
        List<MessageBuilder>? disembargos = null;
        foreach (PipelinedCapability p in pipelines ?? NoPipelines)
        {
            CapabilityHook target = response is not null ? PromisedCapability.Navigate(response, p.Path) : new BrokenCapability(error!);
            lock (_sync)
            {
                if (p.Dead)
                {
                    (dropped ??= []).Add(target);
                }
                else if (sendFinish && p.CallsSent && IsLocal(target))
                {
                    MessageBuilder d = NewEmbargo(out Task lifted);
                    P.MessageTarget.Builder t = d.Root.GetStruct<P.Message.Builder>().Disembargo.InitTarget();
                    WritePromisedAnswer(t.InitPromisedAnswer(), id, p.Path);
                    (disembargos ??= []).Add(d);
                    p.Resolve(new PromisedCapability(AfterEmbargoAsync(lifted, target)));
                }
                else
                {
                    p.Resolve(target);
                }
            }
        }
        if (dropped is not null)
        {
            foreach (CapabilityHook h in dropped)
            {
                h.Release();
            }
        }
        if (sendFinish)
        {
            lock (_sync)
            {
                q.BeforeFinish = disembargos;
                if (q.PipelinedSends > 0)
                {
                    // Calls pipelined on this answer are still being written; Disembargo and Finish must come after them.
                    q.FinishDeferred = true;
                    sendFinish = false;
                }
            }
            if (sendFinish)
            {
                _ = SendFinishAsync(id, q);
            }
        }
        if (response is not null)
        {
            if (!q.Result.TrySetResult(response))
            {
                response.Dispose(); // the caller stopped waiting
            }
            return;
        }
        q.Result.TrySetException(error!);
    }

    /// <summary>A capability that is neither the peer's nor broken: calls to it stay in this process (or go to another connection).</summary>
    private bool IsLocal(CapabilityHook h)
    {
        h = CapabilityHook.Shorten(h);
        return h is not BrokenCapability
            && !(h is ImportedCapability imp && imp.Connection == this)
            && !(h is PipelinedCapability pc && pc.Connection == this);
    }

    /// <summary>A Disembargo (senderLoopback) with a new embargo id; <paramref name="lifted"/> completes when the peer echoes it. Called under the lock.</summary>
    private MessageBuilder NewEmbargo(out Task lifted)
    {
        var embargo = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        uint embargoId = _embargoes.Add(embargo);
        lifted = embargo.Task;
        var m = new MessageBuilder(16);
        P.Disembargo.Builder d = m.InitRoot<P.Message.Builder>().InitDisembargo();
        P.Disembargo.Context.Builder c = d.Context;
        c.SenderLoopback = embargoId;
        return m;
    }

    private static async Task<CapabilityHook> AfterEmbargoAsync(Task lifted, CapabilityHook target)
    {
        await lifted.ConfigureAwait(false);
        return target;
    }

    private static void WritePromisedAnswer(P.PromisedAnswer.Builder pa, uint questionId, IReadOnlyList<ushort> path)
    {
        pa.QuestionId = questionId;
        StructListBuilder<P.PromisedAnswer.Op.Builder> ops = pa.InitTransform(path.Count);
        for (int i = 0; i < path.Count; i++)
        {
            P.PromisedAnswer.Op.Builder op = ops[i];
            op.GetPointerField = path[i];
        }
    }

    /// <summary>rpc.capnp, Resolve: an imported promise settled, to a capability or an error.</summary>
    private void HandleResolve(P.Resolve.Reader r)
    {
        CapabilityHook resolution;
        switch (r.Which)
        {
            case P.Resolve.Which.Cap:
                lock (_sync)
                {
                    resolution = ReadDescriptor(r.Cap);
                }
                break;
            case P.Resolve.Which.Exception:
                resolution = new BrokenCapability(new RpcException((RpcErrorType)Math.Min((ushort)r.Exception.Type, (ushort)3), r.Exception.Reason.ToString()));
                break;
            default:
                throw new ProtocolViolation($"Resolve of unknown kind {r.Which}");
        }
        CapabilityHook? drop = null;
        MessageBuilder? disembargo = null;
        lock (_sync)
        {
            if (!_imports.TryGetValue(r.PromiseId, out ImportedCapability? imp) || imp.Released)
            {
                drop = resolution; // we released the promise already: release what it became too
            }
            else if (!imp.IsPromise || imp.Resolved is not null)
            {
                throw new ProtocolViolation($"Resolve of import {r.PromiseId}, which is not an unresolved promise");
            }
            else if (imp.CallsSent && IsLocal(resolution))
            {
                disembargo = NewEmbargo(out Task lifted);
                P.MessageTarget.Builder t = disembargo.Root.GetStruct<P.Message.Builder>().Disembargo.InitTarget();
                t.ImportedCap = imp.ImportId;
                imp.Resolve(new PromisedCapability(AfterEmbargoAsync(lifted, resolution)));
            }
            else
            {
                imp.Resolve(resolution);
            }
        }
        drop?.Release();
        if (disembargo is not null)
        {
            _ = SendOwnedAsync(disembargo);
        }
    }

    private async Task SendOwnedAsync(MessageBuilder m)
    {
        try
        {
            await SendAsync(m).ConfigureAwait(false);
        }
        catch (RpcException)
        {
        }
        finally
        {
            m.Dispose();
        }
    }

    private void HandleFinish(P.Finish.Reader f)
    {
        uint id = f.QuestionId;
        Answer? answer;
        Answer? dropped = null;
        List<CapabilityHook>? released = null;
        lock (_sync)
        {
            if (!_answers.TryGetValue(id, out answer) || answer.Finished)
            {
                throw new ProtocolViolation($"Finish for question {id}, which is not outstanding");
            }
            answer.Finished = true;
            bool gone = answer.Returned;
            if (gone)
            {
                _answers.Remove(id);
                dropped = answer;
            }
            if (f.ReleaseResultCaps && answer.ExportedCaps is { } ids)
            {
                foreach (uint e in ids)
                {
                    if (ReleaseExport(e, 1) is { } h)
                    {
                        (released ??= []).Add(h);
                    }
                }
                answer.ExportedCaps = null;
            }
        }
        if (dropped is not null)
        {
            DropAnswer(dropped);
        }
        else
        {
            answer.RequestCancel();
        }
        if (released is not null)
        {
            foreach (CapabilityHook h in released)
            {
                h.Release();
            }
        }
    }

    private void HandleRelease(P.Release.Reader r)
    {
        CapabilityHook? released;
        lock (_sync)
        {
            if (_exports.Find(r.Id) is null)
            {
                throw new ProtocolViolation($"Release of export {r.Id}, which does not exist");
            }
            released = ReleaseExport(r.Id, (int)Math.Min(r.ReferenceCount, int.MaxValue));
        }
        released?.Release();
    }

    /// <summary>Drops references to an export; returns its hook when the entry is gone (release it outside the lock).</summary>
    private CapabilityHook? ReleaseExport(uint id, int count)
    {
        Export? e = _exports.Find(id);
        if (e is null)
        {
            return null;
        }
        e.RefCount -= count;
        if (e.RefCount > 0)
        {
            return null;
        }
        _exports.Remove(id);
        _exportIds.Remove(e.Hook);
        return e.Hook;
    }

    private void HandleUnimplemented(P.Message.Reader m)
    {
        uint? question = m.Which switch
        {
            P.Message.Which.Call => m.Call.QuestionId,
            P.Message.Which.Bootstrap => m.Bootstrap.QuestionId,
            _ => null,
        };
        if (question is uint id)
        {
            Question? q;
            lock (_sync)
            {
                q = _questions.Find(id);
                _questions.Remove(id);
            }
            q?.Result.TrySetException(new RpcException(RpcErrorType.Unimplemented, "the peer does not implement this message"));
        }
        else if (m.Which == P.Message.Which.Resolve && m.Resolve.Which == P.Resolve.Which.Cap)
        {
            // A peer without promises never took the reference our Resolve carried: drop it.
            P.CapDescriptor.Reader d = m.Resolve.Cap;
            uint? export = d.Which switch
            {
                P.CapDescriptor.Which.SenderHosted => d.SenderHosted,
                P.CapDescriptor.Which.SenderPromise => d.SenderPromise,
                _ => null,
            };
            CapabilityHook? released = null;
            lock (_sync)
            {
                if (export is uint e)
                {
                    released = ReleaseExport(e, 1);
                }
            }
            released?.Release();
        }
    }

    /// <summary>The capabilities a payload carries, as hooks (each holding one reference).</summary>
    private CapabilityHook?[] ReadCapTable(P.Payload.Reader payload)
    {
        StructList<P.CapDescriptor.Reader> table = payload.CapTable;
        if (table.Count == 0)
        {
            return [];
        }
        var caps = new CapabilityHook?[table.Count];
        lock (_sync)
        {
            for (int i = 0; i < caps.Length; i++)
            {
                P.CapDescriptor.Reader d = table[i];
                caps[i] = d.Which == P.CapDescriptor.Which.None ? null : ReadDescriptor(d);
            }
        }
        return caps;
    }

    /// <summary>The capability a descriptor names, holding one reference. Called under the lock.</summary>
    private CapabilityHook ReadDescriptor(P.CapDescriptor.Reader d)
    {
        switch (d.Which)
        {
            case P.CapDescriptor.Which.SenderHosted:
                return Import(d.SenderHosted);
            case P.CapDescriptor.Which.SenderPromise:
                {
                    CapabilityHook h = Import(d.SenderPromise);
                    if (h is ImportedCapability imp)
                    {
                        imp.IsPromise = true;
                    }
                    return h;
                }
            case P.CapDescriptor.Which.ReceiverHosted:
                return LocalExport(d.ReceiverHosted);
            case P.CapDescriptor.Which.ReceiverAnswer:
                return AnswerTarget(d.ReceiverAnswer);
            case P.CapDescriptor.Which.None:
                return new BrokenCapability(new RpcException(RpcErrorType.Failed, "a null capability"));
            default:
                // thirdPartyHosted is Level 3: the two-party network has no third party to reach.
                return new BrokenCapability(new RpcException(RpcErrorType.Unimplemented, $"capability descriptor {d.Which} is not supported (Level 1 RPC)"));
        }
    }

    /// <summary>A capability in the results of one of the peer's calls to us (receiverAnswer), now or once they exist. Called under the lock.</summary>
    private CapabilityHook AnswerTarget(P.PromisedAnswer.Reader pa)
    {
        if (!_answers.TryGetValue(pa.QuestionId, out Answer? answer) || answer.Finished)
        {
            throw new ProtocolViolation($"receiverAnswer names question {pa.QuestionId}, which is not an outstanding answer");
        }
        int[] path = PathOf(pa);
        if (answer.HasOutcome)
        {
            return TargetIn(answer, path);
        }
        var later = new TaskCompletionSource<CapabilityHook>(TaskCreationOptions.RunContinuationsAsynchronously);
        (answer.Pending ??= []).Add(() =>
        {
            CapabilityHook target;
            lock (_sync)
            {
                target = TargetIn(answer, path);
            }
            later.TrySetResult(target);
        });
        return new PromisedCapability(later.Task);
    }

    private CapabilityHook Import(uint id)
    {
        if (_imports.TryGetValue(id, out ImportedCapability? existing) && !existing.Released && existing.TryAddRef())
        {
            existing.RemoteRefs++;
            return existing;
        }
        var imp = new ImportedCapability(this, id);
        _imports[id] = imp;
        return imp;
    }

    private CapabilityHook LocalExport(uint id)
    {
        Export? e = _exports.Find(id);
        if (e is null)
        {
            throw new ProtocolViolation($"receiverHosted capability {id} is not one of our exports");
        }
        e.Hook.AddRef();
        return e.Hook;
    }

    /// <summary>The last local reference to an import is gone: tell the peer (Release).</summary>
    internal void ReleaseImport(ImportedCapability imp)
    {
        int refs;
        CapabilityHook? resolved;
        lock (_sync)
        {
            resolved = imp.Resolved;
            imp.Resolved = null;
        }
        resolved?.Release();
        lock (_sync)
        {
            imp.Released = true;
            if (!_imports.TryGetValue(imp.ImportId, out ImportedCapability? current) || current != imp)
            {
                return;
            }
            _imports.Remove(imp.ImportId);
            refs = imp.RemoteRefs;
            if (_closed is not null)
            {
                return;
            }
        }
        _ = SendReleaseAsync(imp.ImportId, refs);
    }

    /// <summary>Sends Release. The message is queued (posted), so the returned task is already complete.</summary>
    private Task SendReleaseAsync(uint id, int count)
    {
        MessageBuilder m = _messages.Rent();
        P.Release.Builder r = m.InitRoot<P.Message.Builder>().InitRelease();
        r.Id = id;
        r.ReferenceCount = (uint)count;
        _writer.Post(m, lazy: true);
        return Task.CompletedTask;
    }

    private async Task SendAbortAsync(string reason)
    {
        using var m = new MessageBuilder(32);
        WriteException(m.InitRoot<P.Message.Builder>().InitAbort(), new RpcException(RpcErrorType.Failed, reason));
        try
        {
            await SendAsync(m).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or IOException or InvalidOperationException)
        {
        }
    }

    /// <summary>Ends the connection: every question fails, every import breaks, every export is released.</summary>
    private void Close(RpcException reason)
    {
        List<Question> questions;
        List<Answer> answers;
        List<CapabilityHook> exports;
        List<TaskCompletionSource> embargoes;
        lock (_sync)
        {
            if (_closed is not null)
            {
                return;
            }
            _closed = reason;
            questions = [.. _questions.Entries().Select(e => e.Value)];
            foreach (var (id, _) in _questions.Entries().ToList())
            {
                _questions.Remove(id);
            }
            answers = [.. _answers.Values];
            _answers.Clear();
            exports = [.. _exports.Entries().Select(e => e.Value.Hook)];
            foreach (var (id, _) in _exports.Entries().ToList())
            {
                _exports.Remove(id);
            }
            _exportIds.Clear();
            var disconnectedCap = new RpcException(RpcErrorType.Disconnected, reason.Reason);
            foreach (ImportedCapability imp in _imports.Values)
            {
                imp.Released = true;
                if (imp.IsPromise && imp.Resolved is null)
                {
                    imp.Resolve(new BrokenCapability(disconnectedCap));
                }
            }
            _imports.Clear();
            foreach (Question q in questions)
            {
                foreach (PipelinedCapability p in q.Pipelines ?? [])
                {
                    if (!p.Dead && p.Resolved is null)
                    {
                        p.Resolve(new BrokenCapability(disconnectedCap));
                    }
                }
                q.Pipelines = null;
            }
            embargoes = [.. _embargoes.Entries().Select(e => e.Value)];
            foreach (var (id, _) in _embargoes.Entries().ToList())
            {
                _embargoes.Remove(id);
            }
        }
        var disconnected = new RpcException(RpcErrorType.Disconnected, reason.Reason);
        foreach (Question q in questions)
        {
            q.Result.TrySetException(disconnected);
        }
        foreach (Answer a in answers)
        {
            a.RequestCancel();
            bool waiting;
            lock (_sync)
            {
                waiting = !a.HasOutcome;
            }
            if (waiting)
            {
                // Calls and embargoes waiting on this answer run now, against the error, and release what they hold.
                SetOutcome(a, default, [], disconnected, null);
            }
        }
        foreach (TaskCompletionSource e in embargoes)
        {
            // The calls the peer was to reflect are gone with it: nothing left to wait for.
            e.TrySetResult();
        }
        foreach (CapabilityHook h in exports)
        {
            h.Release();
        }
        _bootstrap?.Release();
        // The read loop completes the input as it exits; the output is completed once no write is in progress.
        _transport.Input.CancelPendingRead();
        _writer.Complete();
        _done.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        Close(new RpcException(RpcErrorType.Disconnected, "the connection was closed locally"));
        Task? reader;
        lock (_sync)
        {
            reader = _reader;
            _reader ??= Task.CompletedTask; // never start after dispose
        }
        if (reader is null)
        {
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
        }
        else
        {
            await reader.ConfigureAwait(false);
        }
    }
}
