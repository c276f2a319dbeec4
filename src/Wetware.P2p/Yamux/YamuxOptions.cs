namespace Wetware.P2p.Yamux;

/// <summary>Yamux settings; the defaults follow the yamux spec and shared/spec/README.md's limits.</summary>
internal sealed record YamuxOptions
{
    /// <summary>Every stream starts with this window both ways (yamux spec: 256 KiB, not negotiable).</summary>
    public const int InitialWindow = 256 * 1024;

    /// <summary>How much a stream lets the peer send ahead of what the application consumed (at least 256 KiB).</summary>
    public int ReceiveWindow { get; init; } = InitialWindow;

    /// <summary>Streams open at once per connection, both directions; the peer's extra streams are reset.</summary>
    public int MaxStreams { get; init; } = 1024;

    /// <summary>Streams refused over the limit before the connection is dropped as a flood.</summary>
    public int MaxRefusedStreams { get; init; } = 1024;

    /// <summary>The largest Data frame we send (a frame and its header fill one Noise frame).</summary>
    public int MaxDataFrame { get; init; } = 65519 - FrameHeader.Size;

    /// <summary>Bytes an application may write ahead of the window before its flush waits.</summary>
    public int SendBuffer { get; init; } = 512 * 1024;

    /// <summary>A ping every interval; no answer by the next one closes the connection. Zero disables.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After the application disposed a stream whose peer has not finished sending, reset it after this.</summary>
    public TimeSpan LingerTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Control frames (pongs, resets) queued but not yet written before the peer counts as hostile.</summary>
    public int MaxPendingControlFrames { get; init; } = 4096;
}
