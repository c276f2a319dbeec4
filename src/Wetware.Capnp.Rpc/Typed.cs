using System.Runtime.CompilerServices;

namespace Wetware.Capnp.Rpc;

/// <summary>A generated client type: a typed view of a <see cref="Rpc.Capability"/>.</summary>
public interface ICapabilityClient<TSelf> where TSelf : CapabilityClient, ICapabilityClient<TSelf>
{
    /// <summary>Wraps <paramref name="capability"/>; the client owns it (disposing the client disposes it).</summary>
    static abstract TSelf FromCapability(Capability capability);
}

/// <summary>
/// The base of generated clients (<c>Foo.Client</c>): owns one capability reference. Dispose it when
/// done; dropping the last reference to a remote capability sends <c>Release</c>.
/// </summary>
public abstract class CapabilityClient : IDisposable
{
    protected CapabilityClient(Capability capability) =>
        Capability = capability ?? throw new ArgumentNullException(nameof(capability));

    /// <summary>The capability this client calls.</summary>
    public Capability Capability { get; }

    public void Dispose()
    {
        Capability.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A generated pipeline type (<c>Foo.Pipeline</c>): the capabilities in results that have not arrived yet.</summary>
public interface IPipelineView<TSelf> where TSelf : struct, IPipelineView<TSelf>
{
    /// <summary>The struct at <paramref name="path"/> (pointer field indexes from the results struct) of <paramref name="promise"/>'s results.</summary>
    static abstract TSelf Create(RpcPromise promise, ushort[] path);
}

/// <summary>Helpers for generated pipelines.</summary>
public static class Pipelines
{
    /// <summary>The path one pointer field further down.</summary>
    public static ushort[] Append(ushort[] path, ushort field)
    {
        var longer = new ushort[path.Length + 1];
        path.CopyTo(longer, 0);
        longer[^1] = field;
        return longer;
    }

    /// <summary>A client for the capability at <paramref name="path"/> + <paramref name="field"/>; calls on it are pipelined.</summary>
    public static T Client<T>(RpcPromise promise, ushort[] path, ushort field) where T : CapabilityClient, ICapabilityClient<T> =>
        T.FromCapability(promise.GetPipelinedCapability(Append(path, field)));
}

/// <summary>A typed call being built (generated <c>NewFoo()</c>): fill <see cref="Params"/>, then <see cref="Send"/>.</summary>
public readonly struct RpcRequest<TParams, TResults, TPipeline> : IDisposable
    where TParams : struct, IStructBuilderView<TParams>
    where TResults : struct, IStructView<TResults>
    where TPipeline : struct, IPipelineView<TPipeline>
{
    public RpcRequest(RpcRequest request)
    {
        Raw = request;
        Params = request.Params.InitStruct<TParams>();
    }

    /// <summary>The untyped request.</summary>
    public RpcRequest Raw { get; }

    public TParams Params { get; }

    /// <summary>Attaches a capability to the params; write the returned index into a capability field.</summary>
    public uint AddCapability(Capability capability) => Raw.AddCapability(capability);

    /// <inheritdoc cref="AddCapability(Capability)"/>
    public uint AddCapability(CapabilityClient client) => Raw.AddCapability(client.Capability);

    /// <summary>Sends the call. Await the result for the response; use <see cref="RpcCall{TResults, TPipeline}.Pipeline"/> to call on its capabilities before it arrives.</summary>
    public RpcCall<TResults, TPipeline> Send(CancellationToken cancellationToken = default) => new(Raw.Send(cancellationToken));

    /// <summary>Drops the request unsent (sending it disposes it too).</summary>
    public void Dispose() => Raw.Dispose();
}

/// <summary>
/// A call that has been sent. Await it for the <see cref="Response{T}"/> (dispose that); or call
/// methods on <see cref="Pipeline"/>'s capabilities right away, pipelined on the answer.
/// </summary>
public readonly struct RpcCall<TResults, TPipeline>
    where TResults : struct, IStructView<TResults>
    where TPipeline : struct, IPipelineView<TPipeline>
{
    public RpcCall(RpcPromise promise) => Promise = promise;

    /// <summary>The untyped promise.</summary>
    public RpcPromise Promise { get; }

    /// <summary>The results' capabilities, usable before the results arrive.</summary>
    public TPipeline Pipeline => TPipeline.Create(Promise, []);

    public ResponseAwaiter<TResults> GetAwaiter() => new(Promise.Response.GetAwaiter());

    /// <summary>The response as a task (for <c>Task.WhenAll</c> and the like).</summary>
    public async Task<Response<TResults>> AsTask() => new(await Promise.Response.ConfigureAwait(false));
}

/// <summary>Awaits a call's response without allocating.</summary>
public readonly struct ResponseAwaiter<T>(TaskAwaiter<RpcResponse> inner) : ICriticalNotifyCompletion
    where T : struct, IStructView<T>
{
    public bool IsCompleted => inner.IsCompleted;

    public Response<T> GetResult() => new(inner.GetResult());

    public void OnCompleted(Action continuation) => inner.OnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation) => inner.UnsafeOnCompleted(continuation);
}

/// <summary>The typed results of a call. Dispose it to release the message and the capabilities it holds.</summary>
public readonly struct Response<T>(RpcResponse raw) : IDisposable where T : struct, IStructView<T>
{
    /// <summary>The untyped response.</summary>
    public RpcResponse Raw => raw;

    /// <summary>The results struct (valid until the response is disposed).</summary>
    public T Results => raw.Results.GetStruct<T>();

    /// <summary>A client for the capability at <paramref name="index"/> (a capability field of <see cref="Results"/>); null for a null capability.</summary>
    public TClient? GetClient<TClient>(uint? index) where TClient : CapabilityClient, ICapabilityClient<TClient> =>
        index is uint i && raw.GetCapability(i) is { } cap ? TClient.FromCapability(cap) : null;

    /// <summary>A new reference to the capability at <paramref name="index"/>, or null.</summary>
    public Capability? GetCapability(uint? index) => index is uint i ? raw.GetCapability(i) : null;

    public void Dispose() => raw.Dispose();
}
