namespace Wetware.Capnp.Rpc;

/// <summary>
/// A capability in the results of one of our questions that has not returned yet. Calls on it
/// go to the peer addressed to the promised answer (rpc.capnp, PromisedAnswer), saving the round
/// trip; once the question returns, calls go straight to the capability it resolved to.
/// </summary>
internal sealed class PipelinedCapability(RpcConnection connection, object question, uint questionId, ushort[] path) : ResolvableCapability
{
    public RpcConnection Connection => connection;

    public object Question => question;

    public uint QuestionId => questionId;

    public ushort[] Path => path;

    /// <summary>Set when the last reference is gone, so a late resolution is released at once.</summary>
    public bool Dead;

    public override RpcRequest NewRequest(ulong interfaceId, ushort methodId) => ImportedCapability.NewCallRequest(this, interfaceId, methodId);

    public override Task<RpcResponse> SendAsync(RpcRequest request, CancellationToken cancellationToken) =>
        Send(request, cancellationToken).Response;

    public override RpcPromise Send(RpcRequest request, CancellationToken cancellationToken) =>
        connection.SendPipelined(this, request, cancellationToken);

    protected override void OnLastRelease() => connection.ReleasePipeline(this);
}
