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
    private readonly Func<AnyPointerBuilder> _results;
    private AnyPointerBuilder? _resultsBuilder;
    private List<CapabilityHook>? _resultCaps;

    /// <summary>The capabilities attached to the results (created on the first one).</summary>
    internal List<CapabilityHook> ResultCaps => _resultCaps ??= [];

    internal IReadOnlyList<CapabilityHook> ResultCapsView => _resultCaps ?? (IReadOnlyList<CapabilityHook>)Array.Empty<CapabilityHook>();

    internal void ClearResultCaps() => _resultCaps?.Clear();

    internal CallContext(ulong interfaceId, ushort methodId, AnyPointerReader parameters, CapabilityHook?[] paramCaps, Func<AnyPointerBuilder> results, CancellationToken cancellationToken)
    {
        InterfaceId = interfaceId;
        MethodId = methodId;
        Params = parameters;
        _paramCaps = paramCaps;
        _results = results;
        CancellationToken = cancellationToken;
    }

    /// <summary>A context whose results struct is already allocated (no closure per call).</summary>
    internal CallContext(ulong interfaceId, ushort methodId, AnyPointerReader parameters, CapabilityHook?[] paramCaps, AnyPointerBuilder results, CancellationToken cancellationToken)
        : this(interfaceId, methodId, parameters, paramCaps, ResultsGiven, cancellationToken) => _resultsBuilder = results;

    private static readonly Func<AnyPointerBuilder> ResultsGiven = () => throw new InvalidOperationException("the results were given at construction");

    public ulong InterfaceId { get; }

    public ushort MethodId { get; }

    public AnyPointerReader Params { get; }

    /// <summary>Canceled when the caller no longer wants the results (it sent <c>Finish</c>) or the connection ends.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The results struct's pointer (allocated on first use).</summary>
    public AnyPointerBuilder Results => _resultsBuilder ??= _results();

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
        ResultCaps.Add(h);
        return (uint)(ResultCaps.Count - 1);
    }

    internal void ReleaseParamCaps()
    {
        for (int i = 0; i < _paramCaps.Length; i++)
        {
            Interlocked.Exchange(ref _paramCaps[i], null)?.Release();
        }
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
        CapabilityHook?[] paramCaps = [.. request.CapsView];
        request.ClearCaps();
        var context = new CallContext(request.InterfaceId, request.MethodId, request.Message.AsReader().Root, paramCaps, () => results.Root, cancellationToken);
        try
        {
            await server.DispatchAsync(context).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            results.Dispose();
            foreach (CapabilityHook h in context.ResultCapsView)
            {
                h.Release();
            }
            throw RpcException.From(e);
        }
        finally
        {
            context.ReleaseParamCaps();
            request.Dispose();
        }
        return new RpcResponse(results.AsReader().Root, [.. context.ResultCapsView], results);
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
        request.Dispose();
        return Task.FromException<RpcResponse>(error);
    }
}
