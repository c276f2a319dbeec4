namespace Wetware.P2p;

/// <summary>What went wrong, in a few kinds a caller can act on; <see cref="P2pException.Reason"/> says the rest.</summary>
public enum P2pError
{
    /// <summary>The peer broke a protocol (malformed frame, bad signature, window exceeded, ...).</summary>
    Protocol,

    /// <summary>The peer proved another identity than the Peer ID we dialed.</summary>
    PeerIdMismatch,

    /// <summary>The peer does not speak the protocol we asked for (multistream-select answered <c>na</c>).</summary>
    ProtocolNotSupported,

    /// <summary>A handshake, negotiation or ping did not finish in time.</summary>
    Timeout,

    /// <summary>A configured limit was reached (connections, streams).</summary>
    Limit,

    /// <summary>The connection, stream or node is closed, or was reset.</summary>
    Closed,

    /// <summary>The socket or name resolution failed.</summary>
    Transport,
}

/// <summary>A libp2p failure with its kind and the reason a person needs.</summary>
public sealed class P2pException : Exception
{
    public P2pException(P2pError error, string reason, Exception? inner = null)
        : base(reason, inner)
    {
        Error = error;
        Reason = reason;
    }

    /// <summary>The kind of failure.</summary>
    public P2pError Error { get; }

    /// <summary>What happened, for a person.</summary>
    public string Reason { get; }

    internal static P2pException Protocol(string reason) => new(P2pError.Protocol, reason);
}
