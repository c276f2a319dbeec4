namespace Wetware.Capnp.Rpc;

/// <summary>The Cap'n Proto exception types (rpc.capnp, <c>Exception.Type</c>).</summary>
public enum RpcErrorType : ushort
{
    Failed = 0,
    Overloaded = 1,
    Disconnected = 2,
    Unimplemented = 3,
}

/// <summary>An error that crossed (or would cross) the wire: a type and a one-line reason.</summary>
public sealed class RpcException : Exception
{
    public RpcException(RpcErrorType type, string reason)
        : base($"{type.ToString().ToLowerInvariant()}: {reason}")
    {
        Type = type;
        Reason = reason;
    }

    public RpcErrorType Type { get; }

    public string Reason { get; }

    /// <summary>
    /// A failure to hand a message to the transport (a socket reset, a stream closed under us): the connection is
    /// gone as far as the message is concerned, so it is <c>disconnected</c>, not <c>failed</c>.
    /// </summary>
    internal static RpcException FromTransport(Exception e) => e switch
    {
        RpcException r => r,
        OperationCanceledException => new RpcException(RpcErrorType.Failed, "canceled"),
        _ => new RpcException(RpcErrorType.Disconnected, $"the connection broke: {e.Message}"),
    };

    internal static RpcException From(Exception e) => e switch
    {
        RpcException r => r,
        OperationCanceledException => new RpcException(RpcErrorType.Failed, "canceled"),
        _ => new RpcException(RpcErrorType.Failed, e.Message),
    };
}
