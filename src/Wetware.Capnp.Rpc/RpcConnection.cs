using System.IO.Pipelines;
using P = Wetware.Capnp.Rpc.Protocol;

namespace Wetware.Capnp.Rpc;

/// <summary>Limits of one connection (shared/spec/README.md, "Limits").</summary>
public sealed record RpcConnectionOptions
{
    /// <summary>Questions in flight per direction; beyond it calls fail with <c>overloaded</c>.</summary>
    public int MaxQuestions { get; init; } = 8192;

    /// <summary>
    /// Bytes of our messages that may wait for a peer that does not read (shared/spec/guest-abi.md: the
    /// message limit); past it the connection is dropped instead of buffering without bound.
    /// </summary>
    public long MaxUnreadBytes { get; init; } = ReaderOptions.Default.MaxMessageBytes;

    /// <summary>The reason a peer's <c>Bootstrap</c> fails with when this side offers no bootstrap capability.</summary>
    public string NoBootstrapReason { get; init; } = "this side of the connection offers no bootstrap capability";

    /// <summary>Limits applied to every incoming message.</summary>
    public ReaderOptions Reader { get; init; } = ReaderOptions.Default;

    /// <summary>
    /// Who is at the other end, as the application names it (a network peer's id, say): servers see it as
    /// <see cref="CallContext.Caller"/> on the calls that arrive over this connection. Null: not said.
    /// </summary>
    public object? Peer { get; init; }
}

/// <summary>Counts of the connection's tables, for tests and diagnostics.</summary>
public readonly record struct RpcTableCounts(int Questions, int Answers, int Imports, int Exports, int Embargoes);

/// <summary>
/// A two-party Cap'n Proto RPC connection (rpc.capnp) over any duplex byte stream. Either
/// side may offer a bootstrap capability and call the other's. The four tables follow the
/// protocol: questions (our calls), answers (theirs), imports (their capabilities we hold)
/// and exports (ours they hold).
/// </summary>
public sealed partial class RpcConnection : IAsyncDisposable
{
    private readonly IDuplexPipe _transport;
    private readonly CapabilityHook? _bootstrap;
    private readonly RpcConnectionOptions _options;
    private readonly object _sync = new();
    private readonly MessageWriter _writer;
    private readonly MessagePool _messages = new();
    private readonly ReceivedMessages _received;
    private readonly IdTable<Question> _questions = new();
    private readonly Dictionary<uint, Answer> _answers = [];
    private readonly Dictionary<uint, ImportedCapability> _imports = [];
    private readonly IdTable<Export> _exports = new();
    private readonly Dictionary<CapabilityHook, uint> _exportIds = new(ReferenceEqualityComparer.Instance);
    private readonly IdTable<TaskCompletionSource> _embargoes = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private RpcException? _closed;
    private Task? _reader;

    public RpcConnection(IDuplexPipe transport, Capability? bootstrap = null, RpcConnectionOptions? options = null)
    {
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _options = options ?? new RpcConnectionOptions();
        _writer = new MessageWriter(transport.Output, ThrowIfClosed, _messages, _options.MaxUnreadBytes, queued =>
        {
            _ = SendAbortAsync($"the peer leaves more than {_options.MaxUnreadBytes} bytes unread ({queued} queued)");
            Close(new RpcException(RpcErrorType.Disconnected, $"the peer leaves more than {_options.MaxUnreadBytes} bytes unread"));
        });
        _received = new ReceivedMessages(_options.Reader);
        if (bootstrap is not null)
        {
            _bootstrap = bootstrap.Hook;
            _bootstrap.AddRef();
        }
    }

    /// <summary>Completes when the connection has ended (peer gone, abort, or dispose).</summary>
    public Task Completion => _done.Task;

    /// <summary>Why the connection ended, once it has.</summary>
    public RpcException? CloseReason => _closed;

    public RpcTableCounts Counts
    {
        get
        {
            lock (_sync)
            {
                return new RpcTableCounts(_questions.Count, _answers.Count, _imports.Count, _exports.Count, _embargoes.Count);
            }
        }
    }

    /// <summary>Starts reading messages from the peer.</summary>
    public void Start()
    {
        lock (_sync)
        {
            _reader ??= Task.Run(ReadLoopAsync);
        }
    }

    /// <summary>Asks the peer for its bootstrap capability.</summary>
    public async Task<Capability> BootstrapAsync(CancellationToken cancellationToken = default)
    {
        var message = new MessageBuilder(8);
        P.Bootstrap.Builder b = message.InitRoot<P.Message.Builder>().InitBootstrap();
        Question q = NewQuestion(out uint id);
        b.QuestionId = id;
        await SendQuestionAsync(q, id, message).ConfigureAwait(false);
        using RpcResponse response = await AwaitAnswerAsync(q, id, cancellationToken).ConfigureAwait(false);
        uint? index = response.Results.GetCapability();
        Capability? cap = index is uint i ? response.GetCapability(i) : null;
        return cap ?? throw new RpcException(RpcErrorType.Failed, "the peer's bootstrap is a null capability");
    }

    // ---- questions -------------------------------------------------------------------

    /// <summary>One of our calls (or bootstraps), its own completion source: one object per call, not two.</summary>
    private sealed class Question(RpcConnection connection) : TaskCompletionSource<RpcResponse>(TaskCreationOptions.RunContinuationsAsynchronously), IPipelineSource
    {
        public uint Id;

        public TaskCompletionSource<RpcResponse> Result => this;

        /// <summary>The call's request until it is written (then released).</summary>
        public RpcRequest? Request;

        /// <summary>For a call pipelined on another question's answer: that question, told once this call is written.</summary>
        public Question? Promised;

        /// <summary>The id is free again only once both happened (rpc.capnp, Finish).</summary>
        public bool Returned;
        public bool FinishSent;

        /// <summary>Exports the params carried (senderHosted), released if the Return says releaseParamCaps.</summary>
        public List<uint>? ParamExports;

        /// <summary>Live capabilities pipelined on this question's results, resolved when it returns.</summary>
        public List<PipelinedCapability>? Pipelines;

        /// <summary>Calls addressed to this question's promised answer still being written: Finish must follow them.</summary>
        public int PipelinedSends;
        public bool FinishDeferred;

        /// <summary>Disembargo messages that must reach the peer after the pipelined calls and before Finish.</summary>
        public List<MessageBuilder>? BeforeFinish;

        public CapabilityHook GetPipelined(ushort[] path) => connection.PipelineOn(this, path);
    }

    private Question NewQuestion(out uint id)
    {
        lock (_sync)
        {
            ThrowIfClosed();
            if (_questions.Count >= _options.MaxQuestions)
            {
                throw new RpcException(RpcErrorType.Overloaded, $"too many questions in flight (limit {_options.MaxQuestions})");
            }
            var q = new Question(this);
            id = q.Id = _questions.Add(q);
            return q;
        }
    }

    private async Task SendQuestionAsync(Question q, uint id, MessageBuilder message)
    {
        try
        {
            await SendAsync(message).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            lock (_sync)
            {
                _questions.Remove(id);
            }
            q.Result.TrySetException(RpcException.FromTransport(e));
        }
    }

    private Task<RpcResponse> AwaitAnswerAsync(Question q, uint id, CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled ? AwaitCancelableAnswerAsync(q, id, cancellationToken) : q.Result.Task;

    private async Task<RpcResponse> AwaitCancelableAnswerAsync(Question q, uint id, CancellationToken cancellationToken)
    {
        using (cancellationToken.Register(() =>
        {
            // The caller stopped waiting: tell the callee (Finish) so it can cancel the work.
            bool send = false;
            lock (_sync)
            {
                if (!q.Returned && !q.FinishSent)
                {
                    q.FinishSent = send = true;
                }
            }
            if (send && q.Result.TrySetCanceled(cancellationToken))
            {
                _ = SendFinishAsync(id, q);
            }
        }))
        {
            return await q.Result.Task.ConfigureAwait(false);
        }
    }

    /// <summary>A call on an imported capability.</summary>
    internal RpcPromise SendCall(ImportedCapability target, RpcRequest request, CancellationToken cancellationToken)
    {
        CapabilityHook? resolved;
        lock (_sync)
        {
            resolved = target.Resolved;
            target.CallsSent |= resolved is null;
        }
        if (resolved is not null)
        {
            // An imported promise that has resolved: calls go to its resolution.
            return PromisedCapability.Forward(request, resolved, cancellationToken);
        }
        Question q;
        uint id;
        try
        {
            q = NewQuestion(out id);
        }
        catch (RpcException e)
        {
            request.Release();
            return new RpcPromise(Task.FromException<RpcResponse>(e), _ => new BrokenCapability(e));
        }
        P.Call.Builder c = CallOf(request);
        P.MessageTarget.Builder t = c.Target;
        t.ImportedCap = target.ImportId;
        return Launch(q, id, request, cancellationToken);
    }

    /// <summary>A call on a capability in the results of a question: pipelined while it is unanswered, direct after.</summary>
    internal RpcPromise SendPipelined(PipelinedCapability target, RpcRequest request, CancellationToken cancellationToken)
    {
        var promised = (Question)target.Question;
        CapabilityHook? resolved;
        lock (_sync)
        {
            resolved = target.Resolved;
            if (resolved is null)
            {
                promised.PipelinedSends++;
                target.CallsSent = true;
            }
        }
        if (resolved is not null)
        {
            return PromisedCapability.Forward(request, resolved, cancellationToken);
        }
        Question q;
        uint id;
        try
        {
            q = NewQuestion(out id);
        }
        catch (RpcException e)
        {
            PipelinedSendDone(promised, target.QuestionId);
            request.Release();
            return new RpcPromise(Task.FromException<RpcResponse>(e), _ => new BrokenCapability(e));
        }
        P.Call.Builder c = CallOf(request);
        P.PromisedAnswer.Builder pa = c.InitTarget().InitPromisedAnswer();
        pa.QuestionId = target.QuestionId;
        StructListBuilder<P.PromisedAnswer.Op.Builder> ops = pa.InitTransform(target.Path.Length);
        for (int i = 0; i < target.Path.Length; i++)
        {
            P.PromisedAnswer.Op.Builder op = ops[i];
            op.GetPointerField = target.Path[i];
        }
        q.Promised = promised;
        return Launch(q, id, request, cancellationToken);
    }

    /// <summary>A pipelined call is on the wire: if its question returned meanwhile, its Finish may go now.</summary>
    private void PipelinedSendDone(Question promised, uint promisedId)
    {
        bool finish = false;
        lock (_sync)
        {
            promised.PipelinedSends--;
            if (promised.PipelinedSends == 0 && promised.FinishDeferred)
            {
                promised.FinishDeferred = false;
                finish = true;
            }
        }
        if (finish)
        {
            _ = SendFinishAsync(promisedId, promised);
        }
    }

    /// <summary>
    /// Sends a call's question. Nothing here waits: the writer tells <see cref="CallWritten"/> once
    /// the Call is in the transport's buffer (or <see cref="CallFailed"/>), and the caller awaits
    /// the question itself, so a call costs no state machine or closure of its own.
    /// </summary>
    private RpcPromise Launch(Question q, uint id, RpcRequest request, CancellationToken cancellationToken)
    {
        P.Call.Builder c = CallOf(request);
        c.QuestionId = id;
        c.InterfaceId = request.InterfaceId;
        c.MethodId = request.MethodId;
        lock (_sync)
        {
            WriteCapTable(c.Params, request.CapList);
            q.ParamExports = request.CapList is { Count: > 0 } ? ExportIds(c.Params) : null;
        }
        q.Request = request;
        _writer.Send(request.Message, _callWritten ??= CallWritten, _callFailed ??= CallFailed, q);
        return new RpcPromise(AwaitAnswerAsync(q, id, cancellationToken), q);
    }

    private Action<object?>? _callWritten;
    private Action<object?, Exception>? _callFailed;

    /// <summary>A Call is in the transport's buffer: its request may go, and a Finish held back for it may follow.</summary>
    private void CallWritten(object? question)
    {
        var q = (Question)question!;
        RpcRequest? request = q.Request;
        Question? promised = q.Promised;
        q.Request = null;
        q.Promised = null;
        if (promised is not null)
        {
            PipelinedSendDone(promised, promised.Id);
        }
        request?.Release();
    }

    /// <summary>A Call could not be sent: the question fails (and its request goes, written or not).</summary>
    private void CallFailed(object? question, Exception error)
    {
        var q = (Question)question!;
        CallWritten(q);
        lock (_sync)
        {
            if (_questions.Find(q.Id) == q)
            {
                _questions.Remove(q.Id);
            }
        }
        q.TrySetException(RpcException.FromTransport(error));
    }

    /// <summary>A capability in the results of question <paramref name="q"/>: pipelined while it is unanswered.</summary>
    private CapabilityHook PipelineOn(Question q, ushort[] path)
    {
        var p = new PipelinedCapability(this, q, q.Id, path);
        lock (_sync)
        {
            if (!q.Returned)
            {
                (q.Pipelines ??= []).Add(p);
                return p;
            }
        }
        // Already answered: the capability is the one in the results.
        return new PromisedCapability(PromisedCapability.TargetOf(q.Task, path));
    }

    /// <summary>The last reference to a pipelined capability is gone.</summary>
    internal void ReleasePipeline(PipelinedCapability p)
    {
        CapabilityHook? resolved;
        lock (_sync)
        {
            ((Question)p.Question).Pipelines?.Remove(p);
            resolved = p.Resolved;
            p.Resolved = null;
            p.Dead = true;
        }
        resolved?.Release();
    }

    private static P.Call.Builder CallOf(RpcRequest request) => request.Message.Root.GetStruct<P.Message.Builder>().Call;

    // ---- sending -----------------------------------------------------------------------

    /// <param name="written">Runs (with <paramref name="state"/>) once the message is in the transport's buffer, before the peer can have seen it.</param>
    private Task SendAsync(MessageBuilder message, Action<object?>? written = null, object? state = null) => _writer.WriteAsync(message, written, state);

    /// <summary>
    /// Sends Finish for a question; the id is freed once the Return has come too. The message is
    /// queued (posted), so the returned task is already complete.
    /// </summary>
    private Task SendFinishAsync(uint questionId, Question q)
    {
        List<MessageBuilder>? before;
        lock (_sync)
        {
            before = q.BeforeFinish;
            q.BeforeFinish = null;
        }
        if (before is not null)
        {
            foreach (MessageBuilder b in before)
            {
                _writer.Post(b);
            }
        }
        MessageBuilder m = _messages.Rent();
        P.Finish.Builder f = m.InitRoot<P.Message.Builder>().InitFinish();
        f.QuestionId = questionId;
        // Capabilities in results are released one by one (Release), as the C++ implementation does.
        f.ReleaseResultCaps = false;
        _writer.Post(m, _finishWritten ??= FinishWritten, q, lazy: true);
        return Task.CompletedTask;
    }

    private Action<object?>? _finishWritten;

    /// <summary>The Finish is in the stream ahead of anything sent later: its id may be reused (if the Return came too).</summary>
    private void FinishWritten(object? question)
    {
        var q = (Question)question!;
        lock (_sync)
        {
            if (q.Returned && _questions.Find(q.Id) == q)
            {
                _questions.Remove(q.Id);
            }
        }
    }

    private void ThrowIfClosed()
    {
        if (_closed is not null)
        {
            throw new RpcException(RpcErrorType.Disconnected, _closed.Reason);
        }
    }

    /// <summary>Describes each capability in the payload's cap table (rpc.capnp, CapDescriptor). Called under the lock.</summary>
    private void WriteCapTable(P.Payload.Builder payload, List<CapabilityHook>? caps)
    {
        StructListBuilder<P.CapDescriptor.Builder> table = payload.InitCapTable(caps?.Count ?? 0);
        for (int i = 0; i < table.Count; i++)
        {
            Describe(table[i], caps![i]);
        }
    }

    /// <summary>
    /// Describes one capability to the peer: its own (receiverHosted), an answer of its still
    /// pending (receiverAnswer), or one of ours, exported as settled (senderHosted) or as a promise
    /// (senderPromise, followed by a Resolve once it settles). Called under the lock.
    /// </summary>
    private void Describe(P.CapDescriptor.Builder d, CapabilityHook hook)
    {
        CapabilityHook h = CapabilityHook.Shorten(hook);
        if (h is ImportedCapability imp && imp.Connection == this && !imp.Released)
        {
            d.ReceiverHosted = imp.ImportId;
            return;
        }
        if (h is PipelinedCapability p && p.Connection == this && !((Question)p.Question).FinishSent)
        {
            P.PromisedAnswer.Builder pa = d.InitReceiverAnswer();
            pa.QuestionId = p.QuestionId;
            StructListBuilder<P.PromisedAnswer.Op.Builder> ops = pa.InitTransform(p.Path.Length);
            for (int i = 0; i < p.Path.Length; i++)
            {
                P.PromisedAnswer.Op.Builder op = ops[i];
                op.GetPointerField = p.Path[i];
            }
            return;
        }
        if (_exportIds.TryGetValue(h, out uint id))
        {
            Export e = _exports[id];
            e.RefCount++;
            if (e.IsPromise)
            {
                d.SenderPromise = id;
            }
            else
            {
                d.SenderHosted = id;
            }
            return;
        }
        h.AddRef();
        Task<CapabilityHook>? resolution = h.WhenResolved;
        var export = new Export(h) { IsPromise = resolution is not null };
        id = _exports.Add(export);
        _exportIds[h] = id;
        if (resolution is null)
        {
            d.SenderHosted = id;
            return;
        }
        d.SenderPromise = id;
        _ = ResolveExportAsync(id, export, resolution);
    }

    /// <summary>Sends <c>Resolve</c> for an exported promise once it settles (unless the peer released it first).</summary>
    private async Task ResolveExportAsync(uint id, Export export, Task<CapabilityHook> resolution)
    {
        RpcException? error = null;
        try
        {
            await resolution.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            error = RpcException.From(e);
        }
        var m = new MessageBuilder(16);
        try
        {
            P.Resolve.Builder r = m.InitRoot<P.Message.Builder>().InitResolve();
            r.PromiseId = id;
            lock (_sync)
            {
                if (_closed is not null || _exports.Find(id) != export)
                {
                    return; // released meanwhile: nothing to tell
                }
                CapabilityHook target = CapabilityHook.Shorten(export.Hook);
                if (error is null && target is BrokenCapability broken)
                {
                    error = broken.Error;
                }
                if (error is not null)
                {
                    WriteException(r.InitException(), error);
                }
                else
                {
                    // (A promise settled into another promise is described as that one, with its own Resolve.)
                    Describe(r.InitCap(), target);
                }
            }
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

    private sealed class Export(CapabilityHook hook)
    {
        public readonly CapabilityHook Hook = hook;
        public int RefCount = 1;

        /// <summary>Exported as senderPromise: a Resolve follows once it settles.</summary>
        public bool IsPromise;
    }
}
