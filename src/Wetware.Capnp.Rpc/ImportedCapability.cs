using P = Wetware.Capnp.Rpc.Protocol;

namespace Wetware.Capnp.Rpc;

/// <summary>A capability the peer hosts (an entry of our imports table).</summary>
internal sealed class ImportedCapability(RpcConnection connection, uint importId) : ResolvableCapability
{
    public RpcConnection Connection => connection;

    public uint ImportId => importId;

    /// <summary>How many times the peer has sent us this capability: what we owe it in <c>Release</c>.</summary>
    public int RemoteRefs = 1;

    /// <summary>Set once the last local reference is gone (the entry may not be revived).</summary>
    public bool Released;

    /// <summary>The peer exported it as a promise (senderPromise): a <c>Resolve</c> will follow.</summary>
    public bool IsPromise;

    /// <summary>Only an import the peer sent as a promise ever resolves.</summary>
    protected override bool Settled => !IsPromise;

    public override RpcRequest NewRequest(ulong interfaceId, ushort methodId) => NewCallRequest(this, interfaceId, methodId);

    /// <summary>A request whose message is already an rpc.capnp Call, for capabilities on the other side of a connection.</summary>
    internal static RpcRequest NewCallRequest(CapabilityHook target, ulong interfaceId, ushort methodId)
    {
        var message = new MessageBuilder(128);
        P.Call.Builder call = message.InitRoot<P.Message.Builder>().InitCall();
        P.Payload.Builder payload = call.InitParams();
        return new RpcRequest(target, message, payload.Content, interfaceId, methodId);
    }

    public override Task<RpcResponse> SendAsync(RpcRequest request, CancellationToken cancellationToken) =>
        Send(request, cancellationToken).Response;

    public override RpcPromise Send(RpcRequest request, CancellationToken cancellationToken) =>
        connection.SendCall(this, request, cancellationToken);

    protected override void OnLastRelease() => connection.ReleaseImport(this);
}
