namespace Wetware.P2p;

/// <summary>
/// What a node holds right now: listeners, connections (inbound ones, handshakes included), streams, open TCP
/// sockets and running background tasks. After every connection closes, all but <see cref="Listeners"/> and the
/// node's own loops (one maintenance loop, one accept loop per listener) return to zero.
/// </summary>
public readonly record struct P2pCounts(int Listeners, int Connections, int InboundConnections, int Handshakes, int Streams, int Sockets, int Tasks);
