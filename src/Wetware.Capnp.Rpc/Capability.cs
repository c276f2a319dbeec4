namespace Wetware.Capnp.Rpc;

/// <summary>
/// What a capability reference points at: a local server, an import from a connection, or
/// an error. Counted: every <see cref="Capability"/> handle holds one reference.
/// </summary>
internal abstract class CapabilityHook
{
    private int _refs = 1;

    public void AddRef() => Interlocked.Increment(ref _refs);

    /// <summary>Adds a reference unless the last one is already gone.</summary>
    public bool TryAddRef()
    {
        int r;
        do
        {
            r = Volatile.Read(ref _refs);
            if (r == 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _refs, r + 1, r) != r);
        return true;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0)
        {
            OnLastRelease();
        }
    }

    protected virtual void OnLastRelease()
    {
    }

    /// <summary>For a promise that has settled: what it resolved to (borrowed, no reference added); else null.</summary>
    internal virtual CapabilityHook? Shortened => null;

    /// <summary>For a promise not settled yet: completes with what it resolves to (borrowed); null for a settled capability.</summary>
    internal virtual Task<CapabilityHook>? WhenResolved => null;

    /// <summary>Follows settled promises to the capability they resolved to (borrowed).</summary>
    internal static CapabilityHook Shorten(CapabilityHook h)
    {
        for (int i = 0; i < 1000 && h.Shortened is { } next; i++)
        {
            h = next;
        }
        return h;
    }

    /// <summary>A new call; the caller fills <see cref="RpcRequest.Params"/> then sends it.</summary>
    public abstract RpcRequest NewRequest(ulong interfaceId, ushort methodId);

    /// <summary>Delivers a request built by <see cref="NewRequest"/>.</summary>
    public abstract Task<RpcResponse> SendAsync(RpcRequest request, CancellationToken cancellationToken);

    /// <summary>Delivers a request and lets the caller use capabilities in its results before they arrive.</summary>
    public virtual RpcPromise Send(RpcRequest request, CancellationToken cancellationToken)
    {
        Task<RpcResponse> response = SendAsync(request, cancellationToken);
        return new RpcPromise(response, path => new PromisedCapability(PromisedCapability.TargetOf(response, path)));
    }
}

/// <summary>A capability of a connection that may later resolve to another (an answer's pipeline, an imported promise).</summary>
internal abstract class ResolvableCapability : CapabilityHook
{
    private TaskCompletionSource<CapabilityHook>? _resolution;

    /// <summary>What it resolved to (set once, under the connection's lock; holds a reference). Calls go there from then on.</summary>
    public CapabilityHook? Resolved;

    /// <summary>Calls were sent to it through the connection (a resolution to one of our own capabilities then needs an embargo).</summary>
    public bool CallsSent;

    /// <summary>True for a capability that will never resolve to another.</summary>
    protected virtual bool Settled => false;

    internal override CapabilityHook? Shortened => Resolved;

    internal override Task<CapabilityHook>? WhenResolved
    {
        get
        {
            if (Settled || Resolved is not null)
            {
                return null;
            }
            lock (this)
            {
                return (_resolution ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    /// <summary>Records the resolution (once, under the connection's lock) and wakes whoever waits for it.</summary>
    public void Resolve(CapabilityHook target)
    {
        Resolved = target;
        TaskCompletionSource<CapabilityHook>? waiting;
        lock (this)
        {
            waiting = _resolution;
        }
        waiting?.TrySetResult(target);
    }
}

/// <summary>
/// The results of a call that may not have arrived yet. <see cref="GetPipelinedCapability"/> gives a
/// capability in the results right away; calls on it are pipelined (sent before the results come back).
/// </summary>
public sealed class RpcPromise
{
    private readonly Func<ushort[], CapabilityHook>? _pipeline;
    private readonly IPipelineSource? _source;

    internal RpcPromise(Task<RpcResponse> response, Func<ushort[], CapabilityHook> pipeline)
    {
        Response = response;
        _pipeline = pipeline;
    }

    /// <summary>A promise whose pipelined capabilities <paramref name="source"/> makes (no closure per call).</summary>
    internal RpcPromise(Task<RpcResponse> response, IPipelineSource source)
    {
        Response = response;
        _source = source;
    }

    public Task<RpcResponse> Response { get; }

    /// <summary>The capability at <paramref name="pointerPath"/> (pointer field indexes from the results struct); dispose it.</summary>
    public Capability GetPipelinedCapability(params ushort[] pointerPath) =>
        new(_source is not null ? _source.GetPipelined(pointerPath) : _pipeline!(pointerPath));
}

/// <summary>What makes the capabilities in a call's results before they arrive (a connection's question).</summary>
internal interface IPipelineSource
{
    CapabilityHook GetPipelined(ushort[] path);
}

/// <summary>A capability that becomes another once a task completes; calls wait for it, in order.</summary>
internal sealed class PromisedCapability : CapabilityHook
{
    private readonly Task<CapabilityHook> _target;
    private Task _last = Task.CompletedTask;
    private readonly object _order = new();

    public PromisedCapability(Task<CapabilityHook> target) => _target = target;

    internal override CapabilityHook? Shortened => _target.IsCompletedSuccessfully ? _target.Result : null;

    internal override Task<CapabilityHook>? WhenResolved => _target.IsCompletedSuccessfully ? null : _target;

    /// <summary>Completes once every call made so far has been handed to the target.</summary>
    internal Task Drained
    {
        get
        {
            lock (_order)
            {
                return _last;
            }
        }
    }

    /// <summary>The capability at a pointer path of a response, once it arrives (each result holds a reference).</summary>
    public static async Task<CapabilityHook> TargetOf(Task<RpcResponse> response, ushort[] path)
    {
        RpcResponse r;
        try
        {
            r = await response.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return new BrokenCapability(RpcException.From(e));
        }
        return Navigate(r, path);
    }

    public static CapabilityHook Navigate(RpcResponse r, ushort[] path)
    {
        try
        {
            AnyPointerReader p = r.Results;
            foreach (ushort field in path)
            {
                p = p.GetStruct().ReadAnyPointer(field);
            }
            uint? index = p.GetCapability();
            Capability? cap = index is uint i ? r.GetCapability(i) : null;
            if (cap is null)
            {
                return new BrokenCapability(new RpcException(RpcErrorType.Failed, "the pipelined capability is null in the results"));
            }
            return cap.Hook;
        }
        catch (CapnpException e)
        {
            return new BrokenCapability(new RpcException(RpcErrorType.Failed, $"the pipelined path is not a capability in the results: {e.Message}"));
        }
    }

    public override RpcRequest NewRequest(ulong interfaceId, ushort methodId)
    {
        var message = new MessageBuilder(128);
        return new RpcRequest(this, message, message.Root, interfaceId, methodId);
    }

    public override Task<RpcResponse> SendAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        // Chain the calls so they reach the target in the order they were made (E-order).
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task previous;
        lock (_order)
        {
            previous = _last;
            _last = started.Task;
        }
        return ForwardAsync(previous, started, request, cancellationToken);
    }

    private async Task<RpcResponse> ForwardAsync(Task previous, TaskCompletionSource started, RpcRequest request, CancellationToken cancellationToken)
    {
        Task<RpcResponse> call;
        try
        {
            await previous.ConfigureAwait(false);
            CapabilityHook target = await _target.ConfigureAwait(false);
            call = Forward(request, target, cancellationToken).Response;
        }
        finally
        {
            started.TrySetResult();
        }
        return await call.ConfigureAwait(false);
    }

    /// <summary>Re-addresses a request built for one capability to another (copying params and caps).</summary>
    internal static RpcPromise Forward(RpcRequest request, CapabilityHook target, CancellationToken cancellationToken)
    {
        RpcRequest forwarded = target.NewRequest(request.InterfaceId, request.MethodId);
        try
        {
            forwarded.Params.Set(request.Params.AsReader());
            if (request.CapList is { } caps)
            {
                forwarded.Caps.AddRange(caps);
                caps.Clear();
            }
        }
        finally
        {
            request.Release();
        }
        return forwarded.Send(cancellationToken);
    }

    protected override void OnLastRelease()
    {
        _ = ReleaseTargetAsync();
    }

    private async Task ReleaseTargetAsync()
    {
        CapabilityHook target = await _target.ConfigureAwait(false);
        target.Release();
    }
}

/// <summary>
/// A reference to a capability. Dispose it when done: dropping the last reference to an
/// imported capability sends <c>Release</c> to its host.
/// </summary>
public sealed class Capability : IDisposable
{
    private CapabilityHook? _hook;

    internal Capability(CapabilityHook hook) => _hook = hook;

    /// <summary>A capability served by a local object.</summary>
    /// <remarks>A server that implements <see cref="IDisposable"/> is disposed when the last reference is dropped, here and by every peer.</remarks>
    public static Capability FromServer(IRpcServer server) => new(new LocalCapability(server));

    /// <summary>
    /// A capability that becomes the one <paramref name="promise"/> produces (taking ownership of it).
    /// Calls made before then wait and are delivered in order; if the task fails, they fail with its error.
    /// Passed to a peer, it travels as a promise (senderPromise) and a <c>Resolve</c> follows.
    /// </summary>
    public static Capability FromPromise(Task<Capability> promise) => new(new PromisedCapability(HookOf(promise)));

    private static async Task<CapabilityHook> HookOf(Task<Capability> promise)
    {
        try
        {
            using Capability c = await promise.ConfigureAwait(false);
            CapabilityHook h = c.Hook;
            h.AddRef();
            return h;
        }
        catch (Exception e)
        {
            return new BrokenCapability(RpcException.From(e));
        }
    }

    /// <summary>
    /// A capability whose every call first passes <paramref name="check"/> (an epoch guard, a revocation):
    /// a non-null error fails the call with it; otherwise the call goes to <paramref name="inner"/> unchanged
    /// (no copy, also when the call arrives over a connection). Takes a reference of its own to the inner one.
    /// </summary>
    public static Capability Guard(Capability inner, Func<RpcException?> check)
    {
        ArgumentNullException.ThrowIfNull(check);
        CapabilityHook h = inner.Hook;
        h.AddRef();
        return new(new GuardedCapability(h, check));
    }

    /// <summary>
    /// A reference to <paramref name="inner"/> (calls go to it unchanged) that runs <paramref name="released"/> once,
    /// when its last reference is dropped, here and by every peer it was passed to: the owner of a resource behind
    /// a capability (a connection to another node) learns when nobody uses it any more.
    /// </summary>
    public static Capability OnRelease(Capability inner, Action released)
    {
        ArgumentNullException.ThrowIfNull(released);
        CapabilityHook h = inner.Hook;
        h.AddRef();
        return new(new GuardedCapability(h, static () => null, released));
    }

    /// <summary>A capability whose every call fails with <paramref name="error"/>.</summary>
    public static Capability Broken(RpcException error) => new(new BrokenCapability(error));

    internal CapabilityHook Hook => _hook ?? throw new ObjectDisposedException(nameof(Capability), "this capability reference was disposed");

    /// <summary>Another reference to the same capability (dispose each).</summary>
    public Capability Clone()
    {
        CapabilityHook h = Hook;
        h.AddRef();
        return new Capability(h);
    }

    /// <summary>Starts a call of <paramref name="methodId"/> on interface <paramref name="interfaceId"/>.</summary>
    public RpcRequest NewRequest(ulong interfaceId, ushort methodId) => Hook.NewRequest(interfaceId, methodId);

    public void Dispose() => Interlocked.Exchange(ref _hook, null)?.Release();
}

/// <summary>A call being built: fill <see cref="Params"/>, attach capabilities, then <see cref="SendAsync"/>.</summary>
public sealed class RpcRequest : IDisposable
{
    /// <summary>Where <see cref="Send"/> delivers it (a guard re-addresses the request it wraps to itself).</summary>
    internal CapabilityHook Target;
    internal readonly MessageBuilder Message;
    private List<CapabilityHook>? _caps;
    private bool _sent;
    private int _released;

    internal RpcRequest(CapabilityHook target, MessageBuilder message, AnyPointerBuilder parameters, ulong interfaceId, ushort methodId)
    {
        Target = target;
        Message = message;
        Params = parameters;
        InterfaceId = interfaceId;
        MethodId = methodId;
    }

    public ulong InterfaceId { get; }

    public ushort MethodId { get; }

    /// <summary>The params struct's pointer (generated code initializes its struct here).</summary>
    public AnyPointerBuilder Params { get; }

    /// <summary>The capabilities attached to the params (made on first use).</summary>
    internal List<CapabilityHook> Caps => _caps ??= [];

    /// <summary>The capabilities attached to the params, or null if none ever were.</summary>
    internal List<CapabilityHook>? CapList => _caps;

    /// <summary>Attaches a capability to the params; write the returned index into a capability field.</summary>
    public uint AddCapability(Capability capability)
    {
        CapabilityHook h = capability.Hook;
        h.AddRef();
        Caps.Add(h);
        return (uint)(Caps.Count - 1);
    }

    public Task<RpcResponse> SendAsync(CancellationToken cancellationToken = default) => Send(cancellationToken).Response;

    /// <summary>Sends the call; capabilities in its results can be used (pipelined) before they arrive.</summary>
    public RpcPromise Send(CancellationToken cancellationToken = default)
    {
        if (_sent)
        {
            throw new InvalidOperationException("this request was already sent");
        }
        _sent = true;
        return Target.Send(this, cancellationToken);
    }

    /// <summary>Drops an unsent request. A sent one belongs to the RPC system, which releases it once it is sent.</summary>
    public void Dispose()
    {
        if (!_sent)
        {
            Release();
        }
    }

    /// <summary>Returns the message's memory and the attached capabilities (once, whoever asks first).</summary>
    internal void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }
        Message.Dispose();
        if (_caps is { } caps)
        {
            foreach (CapabilityHook h in caps)
            {
                h.Release();
            }
            caps.Clear();
        }
    }
}

/// <summary>The results of a call. Dispose it to release the message and the capabilities it holds.</summary>
public sealed class RpcResponse : IDisposable
{
    private IDisposable? _owner;
    private readonly CapabilityHook?[] _caps;

    internal RpcResponse(AnyPointerReader results, CapabilityHook?[] caps, IDisposable? owner)
    {
        Results = results;
        _caps = caps;
        _owner = owner;
    }

    /// <summary>The results struct's pointer.</summary>
    public AnyPointerReader Results { get; }

    public int CapabilityCount => _caps.Length;

    /// <summary>A new reference to capability <paramref name="index"/> of the results (null for a null entry).</summary>
    public Capability? GetCapability(uint index)
    {
        if (index >= _caps.Length)
        {
            throw new RpcException(RpcErrorType.Failed, $"capability index {index} is outside the results' table of {_caps.Length}");
        }
        CapabilityHook? h = _caps[index];
        if (h is null)
        {
            return null;
        }
        h.AddRef();
        return new Capability(h);
    }

    public void Dispose()
    {
        for (int i = 0; i < _caps.Length; i++)
        {
            Interlocked.Exchange(ref _caps[i], null)?.Release();
        }
        // Once: the owner may be a pooled message that serves another call afterwards.
        Interlocked.Exchange(ref _owner, null)?.Dispose();
    }
}

/// <summary>A capability behind a check that runs before each call (see <see cref="Capability.Guard"/>).</summary>
internal sealed class GuardedCapability(CapabilityHook inner, Func<RpcException?> check, Action? released = null) : CapabilityHook
{
    public CapabilityHook Inner => inner;

    public RpcException? Check() => check();

    public override RpcRequest NewRequest(ulong interfaceId, ushort methodId)
    {
        RpcRequest request = inner.NewRequest(interfaceId, methodId);
        request.Target = this;
        return request;
    }

    public override Task<RpcResponse> SendAsync(RpcRequest request, CancellationToken cancellationToken) => Send(request, cancellationToken).Response;

    public override RpcPromise Send(RpcRequest request, CancellationToken cancellationToken)
    {
        if (check() is { } error)
        {
            request.Dispose();
            return new RpcPromise(Task.FromException<RpcResponse>(error), _ => new BrokenCapability(error));
        }
        request.Target = inner;
        return inner.Send(request, cancellationToken);
    }

    protected override void OnLastRelease()
    {
        inner.Release();
        released?.Invoke();
    }
}
