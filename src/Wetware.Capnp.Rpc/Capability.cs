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

    /// <summary>A new call; the caller fills <see cref="RpcRequest.Params"/> then sends it.</summary>
    public abstract RpcRequest NewRequest(ulong interfaceId, ushort methodId);

    /// <summary>Delivers a request built by <see cref="NewRequest"/>.</summary>
    public abstract Task<RpcResponse> SendAsync(RpcRequest request, CancellationToken cancellationToken);
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
    public static Capability FromServer(IRpcServer server) => new(new LocalCapability(server));

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
    private readonly CapabilityHook _target;
    internal readonly MessageBuilder Message;
    internal readonly List<CapabilityHook> Caps = [];
    private bool _sent;

    internal RpcRequest(CapabilityHook target, MessageBuilder message, AnyPointerBuilder parameters, ulong interfaceId, ushort methodId)
    {
        _target = target;
        Message = message;
        Params = parameters;
        InterfaceId = interfaceId;
        MethodId = methodId;
    }

    public ulong InterfaceId { get; }

    public ushort MethodId { get; }

    /// <summary>The params struct's pointer (generated code initializes its struct here).</summary>
    public AnyPointerBuilder Params { get; }

    /// <summary>Attaches a capability to the params; write the returned index into a capability field.</summary>
    public uint AddCapability(Capability capability)
    {
        CapabilityHook h = capability.Hook;
        h.AddRef();
        Caps.Add(h);
        return (uint)(Caps.Count - 1);
    }

    public Task<RpcResponse> SendAsync(CancellationToken cancellationToken = default)
    {
        if (_sent)
        {
            throw new InvalidOperationException("this request was already sent");
        }
        _sent = true;
        return _target.SendAsync(this, cancellationToken);
    }

    public void Dispose()
    {
        Message.Dispose();
        foreach (CapabilityHook h in Caps)
        {
            h.Release();
        }
        Caps.Clear();
    }
}

/// <summary>The results of a call. Dispose it to release the message and the capabilities it holds.</summary>
public sealed class RpcResponse : IDisposable
{
    private readonly IDisposable? _owner;
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
        _owner?.Dispose();
    }
}
