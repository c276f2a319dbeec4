using System.Reflection;

namespace Wetware.P2p;

/// <summary>A node's settings; the defaults are shared/spec/network.md's and shared/spec/README.md's.</summary>
public sealed class P2pNodeOptions
{
    /// <summary>identify's agent version: <c>wetware-dotnet/&lt;version&gt;</c>.</summary>
    public string AgentVersion { get; init; } = "wetware-dotnet/" +
        (typeof(P2pNodeOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0");

    /// <summary>identify's protocol version.</summary>
    public string ProtocolVersion { get; init; } = "ipfs/0.1.0";

    /// <summary>TCP connect, multistream-select, Noise and the muxer must finish within this, or the connection is dropped.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A new stream must agree on a protocol within this, or it is reset.</summary>
    public TimeSpan NegotiationTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection without streams for this long is closed (unless <see cref="PeerConnection.KeepAlive"/>).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Inbound connections, handshakes included; further ones are refused at accept.</summary>
    public int MaxInboundConnections { get; init; } = 256;

    /// <summary>Streams per connection, both directions; the peer's extra streams are reset.</summary>
    public int MaxStreamsPerConnection { get; init; } = 1024;

    /// <summary>Streams a peer may have refused over the limit before its connection is dropped as a flood.</summary>
    public int MaxRefusedStreams { get; init; } = 1024;

    /// <summary>Each stream's receive window (at least 256 KiB, the Yamux initial window).</summary>
    public int StreamReceiveWindow { get; init; } = 256 * 1024;

    /// <summary>Yamux keep-alive pings; a ping unanswered by the next one closes the connection. Zero disables.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A stream the application closed while the peer still sends is reset after this.</summary>
    public TimeSpan StreamLingerTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a closing connection waits for the peer to close its side before the socket is closed.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often idle connections, keep-alives and lingering streams are checked.</summary>
    internal TimeSpan MaintenanceInterval { get; init; } = TimeSpan.FromSeconds(1);
}
