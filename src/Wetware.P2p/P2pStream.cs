using System.IO.Pipelines;
using Wetware.Identity;
using Wetware.P2p.Yamux;

namespace Wetware.P2p;

/// <summary>
/// A negotiated libp2p stream: a Yamux stream on which both ends agreed on <see cref="Protocol"/>. Read
/// <see cref="Input"/> to its end (the peer's FIN) or its fault (a reset, with a <see cref="P2pException"/>);
/// completing <see cref="Output"/> sends FIN (half-close). Dispose when done: that finishes both directions, and
/// a peer that keeps sending past the linger time gets a reset.
/// </summary>
public sealed class P2pStream : IDuplexPipe, IAsyncDisposable
{
    private readonly YamuxStream _stream;
    private int _disposed;

    internal P2pStream(YamuxStream stream, string protocol, PeerConnection connection)
    {
        _stream = stream;
        Protocol = protocol;
        Connection = connection;
    }

    /// <summary>The protocol id both ends agreed on.</summary>
    public string Protocol { get; }

    /// <summary>The connection it runs on.</summary>
    public PeerConnection Connection { get; }

    /// <summary>The peer at the other end.</summary>
    public PeerId RemotePeer => Connection.RemotePeer;

    /// <summary>True when the peer opened the stream.</summary>
    public bool IsInbound => !_stream.IsOutbound;

    public PipeReader Input => _stream.Input;

    public PipeWriter Output => _stream.Output;

    /// <summary>Ends the stream at once in both directions (Yamux RST); data not yet sent is dropped.</summary>
    public void Reset() => _stream.Reset();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await Output.CompleteAsync().ConfigureAwait(false);
        await Input.CompleteAsync().ConfigureAwait(false);
        _stream.ApplicationDisposed();
    }

    public override string ToString() => $"{Protocol} with {RemotePeer} ({_stream})";
}
