namespace Wetware.Capnp.Rpc;

/// <summary>An object that serves calls. Generated server base types implement this and dispatch by method.</summary>
public interface IRpcServer
{
    /// <summary>Handles one call: read <see cref="CallContext.Params"/>, write <see cref="CallContext.Results"/>; throw <see cref="RpcException"/> to fail it.</summary>
    ValueTask DispatchAsync(CallContext context);
}

/// <summary>One incoming call, as a server sees it.</summary>
public sealed class CallContext
{
    private readonly CapabilityHook?[] _paramCaps;
    private readonly MessageBuilder? _resultsMessage;
    private AnyPointerBuilder? _resultsBuilder;
    private List<CapabilityHook>? _resultCaps;
    private readonly CallCancellation? _cancellation;
    private readonly CancellationToken _cancellationToken;

    /// <summary>A local call's context: the results are <paramref name="results"/>'s root, made on first use.</summary>
    internal CallContext(ulong interfaceId, ushort methodId, AnyPointerReader parameters, CapabilityHook?[] paramCaps, MessageBuilder results, CancellationToken cancellationToken)
    {
        InterfaceId = interfaceId;
        MethodId = methodId;
        Params = parameters;
        _paramCaps = paramCaps;
        _resultsMessage = results;
        _cancellationToken = cancellationToken;
    }

    /// <summary>A connection's call: its results struct is already allocated, its token made only if asked for.</summary>
    internal CallContext(ulong interfaceId, ushort methodId, AnyPointerReader parameters, CapabilityHook?[] paramCaps, AnyPointerBuilder results, CallCancellation cancellation, object? caller)
    {
        Caller = caller;
        InterfaceId = interfaceId;
        MethodId = methodId;
        Params = parameters;
        _paramCaps = paramCaps;
        _resultsBuilder = results;
        _cancellation = cancellation;
    }

    public ulong InterfaceId { get; }

    /// <summary>
    /// The <see cref="RpcConnectionOptions.Peer"/> of the connection this call arrived over (the nearest
    /// hop), or null for a call made in this process or over a connection that names no peer.
    /// </summary>
    public object? Caller { get; }

    public ushort MethodId { get; }

    public AnyPointerReader Params { get; }

    /// <summary>Canceled when the caller no longer wants the results (it sent <c>Finish</c>) or the connection ends.</summary>
    public CancellationToken CancellationToken => _cancellation is { } c ? c.Token : _cancellationToken;

    /// <summary>The results struct's pointer (allocated on first use).</summary>
    public AnyPointerBuilder Results => _resultsBuilder ??= _resultsMessage!.Root;

    /// <summary>The capabilities attached to the results so far, or null for none.</summary>
    internal List<CapabilityHook>? ResultCaps => _resultCaps;

    /// <summary>The results' capabilities as an array, which now owns their references.</summary>
    internal CapabilityHook?[] TakeResultCaps()
    {
        if (_resultCaps is not { Count: > 0 } caps)
        {
            return [];
        }
        CapabilityHook?[] taken = [.. caps];
        caps.Clear();
        return taken;
    }

    /// <summary>Drops the references of the results' capabilities not taken.</summary>
    internal void ReleaseResultCaps()
    {
        if (_resultCaps is { } caps)
        {
            foreach (CapabilityHook h in caps)
            {
                h.Release();
            }
            caps.Clear();
        }
    }

    /// <summary>A new reference to capability <paramref name="index"/> of the params (dispose it), or null.</summary>
    public Capability? GetParamCapability(uint index)
    {
        if (index >= _paramCaps.Length)
        {
            throw new RpcException(RpcErrorType.Failed, $"capability index {index} is outside the params' table of {_paramCaps.Length}");
        }
        CapabilityHook? h = _paramCaps[index];
        if (h is null)
        {
            return null;
        }
        h.AddRef();
        return new Capability(h);
    }

    /// <summary>A client for capability <paramref name="index"/> of the params (a capability field); null for a null capability. Dispose it.</summary>
    public TClient? GetParamClient<TClient>(uint? index) where TClient : CapabilityClient, ICapabilityClient<TClient> =>
        index is uint i && GetParamCapability(i) is { } cap ? TClient.FromCapability(cap) : null;

    /// <summary>Attaches a client's capability to the results (the client keeps its own reference).</summary>
    public uint AddResultCapability(CapabilityClient client) => AddResultCapability(client.Capability);

    /// <summary>Attaches a capability to the results; write the returned index into a capability field.</summary>
    public uint AddResultCapability(Capability capability)
    {
        CapabilityHook h = capability.Hook;
        h.AddRef();
        List<CapabilityHook> caps = _resultCaps ??= [];
        caps.Add(h);
        return (uint)(caps.Count - 1);
    }

    internal void ReleaseParamCaps()
    {
        for (int i = 0; i < _paramCaps.Length; i++)
        {
            Interlocked.Exchange(ref _paramCaps[i], null)?.Release();
        }
    }
}

/// <summary>
/// A call's cancellation (a <c>Finish</c> before the <c>Return</c>, or the connection's end). The
/// token source is made only if the server asks for the token: most methods never do. Locks
/// itself (it is internal: nobody else can), to carry no lock object of its own.
/// </summary>
internal class CallCancellation
{
    private CancellationTokenSource? _source;
    private bool _requested;
    private bool _disposed;

    public bool IsCancellationRequested => Volatile.Read(ref _requested);

    public CancellationToken Token
    {
        get
        {
            lock (this)
            {
                if (_source is not null)
                {
                    return _source.Token;
                }
                if (_disposed)
                {
                    return new CancellationToken(_requested);
                }
                _source = new CancellationTokenSource();
                if (_requested)
                {
                    _source.Cancel(); // no callbacks yet: nobody had the token
                }
                return _source.Token;
            }
        }
    }

    /// <summary>Cancels the token (now, or as it is made). Callbacks run outside the lock.</summary>
    public void RequestCancel()
    {
        CancellationTokenSource? source;
        lock (this)
        {
            if (_requested || _disposed)
            {
                return;
            }
            _requested = true;
            source = _source;
        }
        source?.Cancel();
    }

    /// <summary>Frees the source, unless a cancel may be running on it (then the collector does).</summary>
    public void DisposeCancellation()
    {
        CancellationTokenSource? source;
        lock (this)
        {
            _disposed = true;
            source = _requested ? null : _source;
        }
        source?.Dispose();
    }
}

/// <summary>Helpers for generated server types.</summary>
public static class RpcServers
{
    /// <summary>The error for a method (or interface) the server does not implement.</summary>
    public static ValueTask Unimplemented(CallContext context, string what) =>
        ValueTask.FromException(new RpcException(RpcErrorType.Unimplemented, $"{what} is not implemented by this server (interface 0x{context.InterfaceId:x16}, method {context.MethodId})"));
}

/// <summary>A capability served in this process: calls go straight to the server object, no serialization.</summary>
internal sealed class LocalCapability(IRpcServer server) : CapabilityHook
{
    public IRpcServer Server => server;

    /// <summary>A server that is <see cref="IDisposable"/> is disposed when the last reference to it is dropped (locally and by every peer).</summary>
    protected override void OnLastRelease() => (server as IDisposable)?.Dispose();

    public override RpcRequest NewRequest(ulong interfaceId, ushort methodId)
    {
        var message = new MessageBuilder(256);
        return new RpcRequest(this, message, message.Root, interfaceId, methodId);
    }

    public override async Task<RpcResponse> SendAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var results = new MessageBuilder(256);
        CapabilityHook?[] paramCaps = [];
        if (request.CapList is { Count: > 0 } caps)
        {
            paramCaps = [.. caps];
            caps.Clear();
        }
        var context = new CallContext(request.InterfaceId, request.MethodId, request.Message.AsReader().Root, paramCaps, results, cancellationToken);
        try
        {
            await server.DispatchAsync(context).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            results.Dispose();
            context.ReleaseResultCaps();
            throw RpcException.From(e);
        }
        finally
        {
            context.ReleaseParamCaps();
            request.Release();
        }
        return new RpcResponse(results.AsReader().Root, context.TakeResultCaps(), results);
    }
}

/// <summary>A capability whose calls all fail with one error (a broken import, a failed promise).</summary>
internal sealed class BrokenCapability(RpcException error) : CapabilityHook
{
    public RpcException Error => error;

    public override RpcRequest NewRequest(ulong interfaceId, ushort methodId)
    {
        var message = new MessageBuilder(16);
        return new RpcRequest(this, message, message.Root, interfaceId, methodId);
    }

    public override Task<RpcResponse> SendAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        request.Release();
        return Task.FromException<RpcResponse>(error);
    }
}
