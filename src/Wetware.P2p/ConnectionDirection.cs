namespace Wetware.P2p;

/// <summary>Who opened a connection.</summary>
public enum ConnectionDirection
{
    /// <summary>The peer dialed us.</summary>
    Inbound,

    /// <summary>We dialed the peer.</summary>
    Outbound,
}

/// <summary>
/// Serves one inbound stream of a registered protocol. The stream is disposed when the handler returns; the token
/// fires when the connection or the node closes.
/// </summary>
public delegate Task StreamHandler(P2pStream stream, CancellationToken cancellationToken);
