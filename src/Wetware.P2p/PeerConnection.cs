using Microsoft.Extensions.Logging;
using Wetware.Identity;
using Wetware.P2p.Noise;
using Wetware.P2p.Transport;
using Wetware.P2p.Yamux;

namespace Wetware.P2p;

/// <summary>
/// A secured, multiplexed connection to one peer: TCP, Noise, Yamux. Opens streams by protocol id; closes itself
/// on a protocol violation, when idle, or when asked, and then releases its socket and every task it started.
/// </summary>
public sealed class PeerConnection
{
    private readonly P2pNode _node;
    private readonly TcpConnection _tcp;
    private readonly NoiseChannel _noise;
    private readonly YamuxSession _session;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<string> _closeRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<IdentifyInfo> _identified = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _noiseRead;
    private Task? _yamuxRead;
    private Task? _yamuxWrite;
    private long _lastActivity = Environment.TickCount64;
    private long _lastKeepAlive = Environment.TickCount64;
    private volatile IdentifyInfo? _remoteIdentify;

    private PeerConnection(P2pNode node, TcpConnection tcp, NoiseChannel noise, PublicKey remoteKey, ConnectionDirection direction, ILogger logger)
    {
        _node = node;
        _tcp = tcp;
        _noise = noise;
        _logger = logger;
        RemotePublicKey = remoteKey;
        RemotePeer = remoteKey.PeerId;
        Direction = direction;
        RemoteAddress = Multiaddr.FromEndPoint(tcp.RemoteEndPoint);
        LocalAddress = Multiaddr.FromEndPoint(tcp.LocalEndPoint);
        _session = new YamuxSession(
            noise,
            isClient: direction == ConnectionDirection.Outbound,
            new YamuxOptions
            {
                MaxStreams = node.Options.MaxStreamsPerConnection,
                MaxRefusedStreams = node.Options.MaxRefusedStreams,
                ReceiveWindow = Math.Max(node.Options.StreamReceiveWindow, YamuxOptions.InitialWindow),
                KeepAliveInterval = node.Options.KeepAliveInterval,
                LingerTimeout = node.Options.StreamLingerTimeout,
            },
            OnInboundStream,
            () => Interlocked.Exchange(ref _lastActivity, Environment.TickCount64),
            limit => logger.LogWarning("{Peer} at {Address}: {Limit}", RemotePeer, RemoteAddress, limit));
        _noiseRead = node.Tasks.Run(noise.ReadLoopAsync, "noise read loop");
        _identified.Task.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
    }

    /// <summary>The peer's Peer ID, proven in the Noise handshake.</summary>
    public PeerId RemotePeer { get; }

    /// <summary>The peer's identity key.</summary>
    public PublicKey RemotePublicKey { get; }

    /// <summary>The peer's TCP address.</summary>
    public Multiaddr RemoteAddress { get; }

    /// <summary>Our end's TCP address.</summary>
    public Multiaddr LocalAddress { get; }

    public ConnectionDirection Direction { get; }

    /// <summary>What the peer told us in identify (and identify push since); null until identify finished.</summary>
    public IdentifyInfo? RemoteIdentify => _remoteIdentify;

    /// <summary>Completes with the first identify answer; faults if identify failed.</summary>
    public Task<IdentifyInfo> Identified => _identified.Task;

    /// <summary>Exempts the connection from the idle close (a guest asked for it, or a capability in use needs it).</summary>
    public bool KeepAlive { get; set; }

    /// <summary>Streams open on the connection, both directions.</summary>
    public int StreamCount => _session.StreamCount;

    /// <summary>Why the connection closed; null while it is open.</summary>
    public string? CloseReason { get; private set; }

    public bool IsClosed => _closeRequested.Task.IsCompleted;

    /// <summary>Completes when the connection is closed and its socket and tasks are released.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Opens a stream and negotiates <paramref name="protocol"/> on it (multistream-select).</summary>
    public Task<P2pStream> OpenStreamAsync(string protocol, CancellationToken cancellationToken = default) =>
        OpenStreamAsync([protocol], cancellationToken);

    /// <summary>Opens a stream and negotiates the first of <paramref name="protocols"/> the peer speaks.</summary>
    public async Task<P2pStream> OpenStreamAsync(IReadOnlyList<string> protocols, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocols);
        // multistream-select writes at once: the SYN rides with its first message.
        YamuxStream stream = _session.OpenStream(announce: false);
        Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        timeout.CancelAfter(_node.Options.NegotiationTimeout);
        try
        {
            string protocol = await Multistream.SelectAsync(stream, protocols, timeout.Token).ConfigureAwait(false);
            return new P2pStream(stream, protocol, this);
        }
        catch (Exception e)
        {
            stream.Reset();
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw IsClosed
                    ? new P2pException(P2pError.Closed, $"the connection to {RemotePeer} closed: {CloseReason}")
                    : new P2pException(P2pError.Timeout, $"negotiating {string.Join(", ", protocols)} with {RemotePeer} took longer than {_node.Options.NegotiationTimeout.TotalSeconds:0.#} s");
            }
            throw;
        }
    }

    /// <summary>A libp2p ping (/ipfs/ping/1.0.0) on a new stream: the round-trip time.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        await using P2pStream stream = await OpenStreamAsync(Protocols.Ping.ProtocolId, cancellationToken).ConfigureAwait(false);
        return await Protocols.Ping.PingOnceAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connection (Yamux GoAway, then the socket) and waits until everything is released.</summary>
    public Task CloseAsync()
    {
        RequestClose("closed locally");
        return Closed;
    }

    public override string ToString() => $"{Direction} connection with {RemotePeer} at {RemoteAddress}";

    internal YamuxSession Session => _session;

    internal CancellationToken ClosingToken => _closing.Token;

    /// <summary>
    /// Runs multistream-select for the muxer over the Noise channel and starts Yamux. On failure everything is
    /// released before the exception leaves.
    /// </summary>
    internal static async Task<PeerConnection> EstablishAsync(P2pNode node, TcpConnection tcp, NoiseResult keys, ConnectionDirection direction, ILogger logger, CancellationToken cancellationToken)
    {
        var noise = new NoiseChannel(tcp, keys);
        var connection = new PeerConnection(node, tcp, noise, keys.RemoteKey, direction, logger);
        try
        {
            const string muxer = "/yamux/1.0.0";
            if (direction == ConnectionDirection.Outbound)
            {
                await Multistream.SelectAsync(noise, [muxer], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await Multistream.ListenAsync(noise, p => p == muxer, () => [muxer], cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await connection.AbandonAsync().ConfigureAwait(false);
            throw;
        }
        connection._yamuxRead = node.Tasks.Run(connection._session.ReadLoopAsync, "yamux read loop");
        connection._yamuxWrite = node.Tasks.Run(connection._session.WriteLoopAsync, "yamux write loop");
        return connection;
    }

    /// <summary>Watches the loops; the first to end (or a close request) closes the connection and releases all.</summary>
    internal async Task SuperviseAsync()
    {
        Task[] loops = [_noiseRead, _yamuxRead!, _yamuxWrite!];
        Task first = await Task.WhenAny([.. loops, _closeRequested.Task]).ConfigureAwait(false);
        string reason;
        bool failure = false;
        if (first == _closeRequested.Task)
        {
            reason = _closeRequested.Task.Result;
        }
        else if ((_session.CloseReason ?? first.Exception?.InnerException) is { } error)
        {
            reason = error is P2pException p ? p.Reason : error.Message;
            failure = error is P2pException { Error: P2pError.Protocol or P2pError.Limit };
        }
        else
        {
            reason = "the peer closed the connection";
        }
        RequestClose(reason);
        CloseReason = reason;
        if (failure)
        {
            _logger.LogWarning("disconnected {Peer} at {Address}: {Reason}", RemotePeer, RemoteAddress, reason);
        }
        else
        {
            _logger.LogDebug("connection with {Peer} at {Address} closed: {Reason}", RemotePeer, RemoteAddress, reason);
        }
        _closing.Cancel();
        // GoAway (normal; a protocol error sent its own already), then the write side drains and ends with a TCP
        // FIN. The peer closes its side in turn; if it does not within the close timeout, the socket goes anyway.
        _session.GoAway(GoAwayCode.Normal);
        try
        {
            await Task.WhenAll(loops).WaitAsync(failure ? TimeSpan.FromMilliseconds(250) : _node.Options.CloseTimeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Timed out or a loop failed: either way the socket goes now.
        }
        _tcp.Dispose();
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Loops end with the errors of a closed socket; the reason was taken above.
        }
        _identified.TrySetException(new P2pException(P2pError.Closed, $"the connection closed before identify finished: {reason}"));
        _closing.Dispose();
        _node.OnConnectionClosed(this);
        _closed.TrySetResult();
    }

    internal void RequestClose(string reason) => _closeRequested.TrySetResult(reason);

    internal void SetIdentify(IdentifyInfo info)
    {
        _remoteIdentify = info;
        _identified.TrySetResult(info);
    }

    internal void IdentifyFailed(Exception e) => _identified.TrySetException(e);

    /// <summary>Idle, keep-alive and linger checks; called by the node's maintenance loop.</summary>
    internal void Maintain(long now)
    {
        if (IsClosed)
        {
            return;
        }
        P2pNodeOptions options = _node.Options;
        if (!KeepAlive && _session.StreamCount == 0 && now - Interlocked.Read(ref _lastActivity) >= (long)options.IdleTimeout.TotalMilliseconds)
        {
            RequestClose($"idle for {options.IdleTimeout.TotalSeconds:0.#} s without streams");
            return;
        }
        if (options.KeepAliveInterval > TimeSpan.Zero && now - _lastKeepAlive >= (long)options.KeepAliveInterval.TotalMilliseconds)
        {
            _lastKeepAlive = now;
            try
            {
                if (!_session.KeepAliveTick())
                {
                    RequestClose($"keep-alive: no answer to a ping within {options.KeepAliveInterval.TotalSeconds:0.#} s");
                    return;
                }
            }
            catch (P2pException e)
            {
                RequestClose(e.Reason);
                return;
            }
        }
        _session.LingerTick();
    }

    private void OnInboundStream(YamuxStream stream)
    {
        Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
        _node.DispatchInbound(this, stream);
    }

    /// <summary>Releases a connection that never got to Yamux.</summary>
    private async Task AbandonAsync()
    {
        _closeRequested.TrySetResult("the handshake failed");
        _tcp.Dispose();
        await _noise.Output.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _noiseRead.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The socket is closed under them.
        }
        await _noise.Input.CompleteAsync().ConfigureAwait(false);
        _closing.Dispose();
        _closed.TrySetResult();
    }
}
