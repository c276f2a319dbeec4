using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Wetware.Identity;
using Wetware.P2p.Noise;
using Wetware.P2p.Protocols;
using Ping = Wetware.P2p.Protocols.Ping;
using Wetware.P2p.Transport;
using Wetware.P2p.Yamux;

namespace Wetware.P2p;

/// <summary>
/// A libp2p node (shared/spec/network.md): listens and dials over TCP, secures with Noise, multiplexes with Yamux,
/// answers identify, identify push and ping, and hands inbound streams to the handler registered for their
/// protocol id. It keeps one connection per peer where it can (dials to a connected peer reuse the connection),
/// closes idle ones, limits inbound connections and streams, and releases every socket, stream and task it starts.
/// </summary>
public sealed class P2pNode : IAsyncDisposable
{
    private const string NoiseProtocol = NoiseHandshake.ProtocolId;

    private readonly NoiseIdentity _noise;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly List<PeerConnection> _connections = [];
    private readonly Dictionary<PeerId, Task<PeerConnection>> _pendingDials = [];
    private readonly ConcurrentDictionary<string, StreamHandler> _handlers = new(StringComparer.Ordinal);
    private readonly List<(Socket Socket, Multiaddr Address)> _listeners = [];
    private readonly CancellationTokenSource _shutdown = new();
    private int _inbound;
    private int _handshakes;
    private int _sockets;
    private int _disposed;
    private int _inboundLimitLogged;

    /// <summary>A node whose identity is <paramref name="key"/> (its Peer ID is the key's).</summary>
    public P2pNode(NodeKey key, P2pNodeOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(NoiseIdentity.From(key ?? throw new ArgumentNullException(nameof(key))), options, loggerFactory?.CreateLogger("Wetware.P2p"))
    {
    }

    internal P2pNode(NoiseIdentity identity, P2pNodeOptions? options, ILogger? logger)
    {
        _noise = identity;
        Options = options ?? new P2pNodeOptions();
        if (Options.StreamReceiveWindow < YamuxOptions.InitialWindow)
        {
            throw new ArgumentException($"the stream receive window is at least {YamuxOptions.InitialWindow} bytes (the Yamux initial window)", nameof(options));
        }
        _logger = logger ?? NullLogger.Instance;
        Tasks = new TaskTracker(_logger);
        _handlers[Identify.ProtocolId] = ServeIdentifyAsync;
        _handlers[Identify.PushProtocolId] = ReceiveIdentifyPushAsync;
        _handlers[Ping.ProtocolId] = Ping.ServeAsync;
        _ = Tasks.Run(MaintainAsync, "maintenance loop");
    }

    /// <summary>This node's Peer ID.</summary>
    public PeerId PeerId => _noise.IdentityKey.PeerId;

    /// <summary>This node's identity key.</summary>
    public PublicKey PublicKey => _noise.IdentityKey;

    public P2pNodeOptions Options { get; }

    /// <summary>The addresses the node listens on, as bound (ports resolved, wildcards kept).</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses
    {
        get
        {
            lock (_lock)
            {
                return [.. _listeners.Select(l => l.Address)];
            }
        }
    }

    /// <summary>The addresses other nodes can dial: the listen addresses with wildcards replaced by this machine's
    /// interface addresses. identify sends these.</summary>
    public IReadOnlyList<Multiaddr> Addresses => [.. ListenAddresses.SelectMany(Expand).Distinct()];

    /// <summary>The protocol ids this node answers.</summary>
    public IReadOnlyCollection<string> Protocols => [.. _handlers.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Open connections.</summary>
    public IReadOnlyList<PeerConnection> Connections
    {
        get
        {
            lock (_lock)
            {
                return [.. _connections];
            }
        }
    }

    /// <summary>The peers with an open connection.</summary>
    public IReadOnlyList<PeerId> Peers => [.. Connections.Where(c => !c.IsClosed).Select(c => c.RemotePeer).Distinct()];

    /// <summary>What the node holds now (see <see cref="P2pCounts"/>).</summary>
    public P2pCounts Counts
    {
        get
        {
            lock (_lock)
            {
                return new P2pCounts(
                    _listeners.Count,
                    _connections.Count,
                    Volatile.Read(ref _inbound),
                    Volatile.Read(ref _handshakes),
                    _connections.Sum(c => c.StreamCount),
                    Volatile.Read(ref _sockets),
                    Tasks.Running);
            }
        }
    }

    /// <summary>Raised when a connection is established (after the handshake, before identify).</summary>
    public event Action<PeerConnection>? PeerConnected;

    /// <summary>Raised when a connection is closed and released.</summary>
    public event Action<PeerConnection>? PeerDisconnected;

    internal TaskTracker Tasks { get; }

    /// <summary>
    /// Listens on <paramref name="address"/> (<c>/ip4/0.0.0.0/tcp/0</c>, <c>/ip6/::/tcp/4001</c>, ...); returns the
    /// bound address. An IPv6 listener takes IPv6 only, so IPv4 and IPv6 can share a port.
    /// </summary>
    public Task<Multiaddr> ListenAsync(Multiaddr address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        if (!address.TryGetTcpTarget(out string? host, out _, out int port) || !IPAddress.TryParse(host, out IPAddress? ip))
        {
            throw new P2pException(P2pError.Transport, $"cannot listen on {address}: only /ip4/<address>/tcp/<port> and /ip6/<address>/tcp/<port>");
        }
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        Multiaddr bound;
        try
        {
            if (ip.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(512);
            bound = Multiaddr.FromEndPoint((IPEndPoint)socket.LocalEndPoint!);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new P2pException(P2pError.Transport, $"cannot listen on {address}: {e.Message}", e);
        }
        lock (_lock)
        {
            _listeners.Add((socket, bound));
        }
        _ = Tasks.Run(() => AcceptLoopAsync(socket, bound), "accept loop");
        _logger.LogInformation("listening on {Address}/p2p/{Peer}", bound, PeerId);
        PushIdentify();
        return Task.FromResult(bound);
    }

    /// <summary>
    /// Dials <paramref name="address"/>. With a <c>/p2p/</c> part the peer must prove that Peer ID, and an open
    /// connection to it is reused (so are dials already under way).
    /// </summary>
    public async Task<PeerConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ThrowIfDisposed();
        if (address.PeerId is not { } peer)
        {
            return await DialNewAsync(address, null, cancellationToken).ConfigureAwait(false);
        }
        if (peer == PeerId)
        {
            throw new P2pException(P2pError.Transport, $"cannot dial {address}: that is this node");
        }
        if (GetConnection(peer) is { } existing)
        {
            return existing;
        }
        Task<PeerConnection> dial;
        lock (_lock)
        {
            if (!_pendingDials.TryGetValue(peer, out dial!))
            {
                dial = DialCoalescedAsync(address, peer);
                _pendingDials[peer] = dial;
            }
        }
        return await dial.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns the open connection to <paramref name="peer"/>, or dials its addresses in turn.</summary>
    public async Task<PeerConnection> ConnectAsync(PeerId peer, IEnumerable<Multiaddr> addresses, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        if (GetConnection(peer) is { } existing)
        {
            return existing;
        }
        var failures = new List<string>();
        foreach (Multiaddr address in addresses)
        {
            Multiaddr target = address.PeerId is null ? address.WithPeerId(peer) : address;
            if (target.PeerId != peer)
            {
                failures.Add($"{address}: names another peer");
                continue;
            }
            try
            {
                return await DialAsync(target, cancellationToken).ConfigureAwait(false);
            }
            catch (P2pException e)
            {
                failures.Add($"{address}: {e.Reason}");
            }
        }
        throw new P2pException(P2pError.Transport, failures.Count == 0
            ? $"cannot connect to {peer}: no addresses"
            : $"cannot connect to {peer}: {string.Join("; ", failures)}");
    }

    /// <summary>The open connection to <paramref name="peer"/> (the oldest, if several), or null.</summary>
    public PeerConnection? GetConnection(PeerId peer)
    {
        lock (_lock)
        {
            return _connections.Find(c => c.RemotePeer == peer && !c.IsClosed && !c.Session.RemoteGoingAway);
        }
    }

    /// <summary>Opens a stream for <paramref name="protocol"/> on the open connection to <paramref name="peer"/>.</summary>
    public Task<P2pStream> OpenStreamAsync(PeerId peer, string protocol, CancellationToken cancellationToken = default)
    {
        PeerConnection connection = GetConnection(peer)
            ?? throw new P2pException(P2pError.Closed, $"not connected to {peer}");
        return connection.OpenStreamAsync(protocol, cancellationToken);
    }

    /// <summary>A libp2p ping to a connected peer: the round-trip time.</summary>
    public Task<TimeSpan> PingAsync(PeerId peer, CancellationToken cancellationToken = default)
    {
        PeerConnection connection = GetConnection(peer)
            ?? throw new P2pException(P2pError.Closed, $"not connected to {peer}");
        return connection.PingAsync(cancellationToken);
    }

    /// <summary>Serves <paramref name="protocol"/> with <paramref name="handler"/> (replacing any); connected peers
    /// learn it through identify push.</summary>
    public void SetStreamHandler(string protocol, StreamHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocol);
        ArgumentNullException.ThrowIfNull(handler);
        if (protocol[0] != '/' || protocol.Length >= Multistream.MaxMessageLength || protocol.Contains('\n'))
        {
            throw new ArgumentException($"a protocol id starts with '/', has no newline and is shorter than {Multistream.MaxMessageLength} bytes", nameof(protocol));
        }
        bool added = !_handlers.ContainsKey(protocol);
        _handlers[protocol] = handler;
        if (added)
        {
            PushIdentify();
        }
    }

    /// <summary>Stops serving <paramref name="protocol"/>; true if it was served.</summary>
    public bool RemoveStreamHandler(string protocol)
    {
        bool removed = _handlers.TryRemove(protocol, out _);
        if (removed)
        {
            PushIdentify();
        }
        return removed;
    }

    /// <summary>Stops listening, closes every connection and waits until sockets and tasks are released.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _shutdown.Cancel();
        (Socket Socket, Multiaddr Address)[] listeners;
        PeerConnection[] connections;
        lock (_lock)
        {
            listeners = [.. _listeners];
            _listeners.Clear();
            connections = [.. _connections];
        }
        foreach ((Socket socket, _) in listeners)
        {
            socket.Dispose();
        }
        foreach (PeerConnection c in connections)
        {
            c.RequestClose("the node is shutting down");
        }
        await Task.WhenAll(connections.Select(c => c.Closed)).ConfigureAwait(false);
        if (!await Tasks.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false))
        {
            _logger.LogWarning("{Count} tasks still running 10 s after the node was disposed", Tasks.Running);
        }
        _noise.Dispose();
        _shutdown.Dispose();
    }

    public override string ToString() => $"P2pNode {PeerId}";

    // ---- connections -----------------------------------------------------------------------------------------

    private async Task<PeerConnection> DialCoalescedAsync(Multiaddr address, PeerId peer)
    {
        try
        {
            return await DialNewAsync(address, peer, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _pendingDials.Remove(peer);
            }
        }
    }

    private async Task<PeerConnection> DialNewAsync(Multiaddr address, PeerId? expected, CancellationToken cancellationToken)
    {
        await Task.Yield();
        if (!address.TryGetTcpTarget(out string? host, out AddressFamily family, out int port))
        {
            throw new P2pException(P2pError.Transport, $"cannot dial {address}: only /ip4, /ip6, /dns, /dns4 or /dns6 with /tcp");
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdown.Token);
        timeout.CancelAfter(Options.HandshakeTimeout);
        TcpConnection? tcp = null;
        Interlocked.Increment(ref _handshakes);
        try
        {
            IPAddress[] ips = IPAddress.TryParse(host, out IPAddress? literal)
                ? [literal]
                : await ResolveAsync(host, family, timeout.Token).ConfigureAwait(false);
            var failures = new List<string>();
            foreach (IPAddress ip in ips)
            {
                Interlocked.Increment(ref _sockets);
                try
                {
                    tcp = await TcpConnection.ConnectAsync(new IPEndPoint(ip, port), SocketReleased, timeout.Token).ConfigureAwait(false);
                    break;
                }
                catch (P2pException e)
                {
                    failures.Add(e.Reason);
                }
            }
            if (tcp is null)
            {
                throw new P2pException(P2pError.Transport, $"cannot dial {address}: {string.Join("; ", failures)}");
            }
            await Multistream.SelectAsync(tcp, [NoiseProtocol], timeout.Token).ConfigureAwait(false);
            NoiseResult keys = await NoiseHandshake.InitiateAsync(tcp, _noise, expected, timeout.Token).ConfigureAwait(false);
            PeerConnection connection = await PeerConnection.EstablishAsync(this, tcp, keys, ConnectionDirection.Outbound, _logger, timeout.Token).ConfigureAwait(false);
            Register(connection);
            return connection;
        }
        catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested)
            && e is OperationCanceledException or P2pException or IOException or SocketException or ObjectDisposedException)
        {
            tcp?.Dispose();
            P2pException failure = e switch
            {
                OperationCanceledException when _shutdown.IsCancellationRequested => new P2pException(P2pError.Closed, $"dialing {address}: the node is shutting down"),
                OperationCanceledException => new P2pException(P2pError.Timeout, $"dialing {address}: the handshake did not finish within {Options.HandshakeTimeout.TotalSeconds:0.#} s"),
                P2pException p when p.Error == P2pError.Transport => p,
                P2pException p => new P2pException(p.Error, $"dialing {address}: {p.Reason}", p),
                _ => new P2pException(P2pError.Transport, $"dialing {address}: {e.Message}", e),
            };
            _logger.LogInformation("{Reason}", failure.Reason);
            throw failure;
        }
        catch
        {
            tcp?.Dispose();
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _handshakes);
        }
    }

    private static async Task<IPAddress[]> ResolveAsync(string host, AddressFamily family, CancellationToken cancellationToken)
    {
        try
        {
            IPAddress[] all = await Dns.GetHostAddressesAsync(host, family, cancellationToken).ConfigureAwait(false);
            if (all.Length == 0)
            {
                throw new P2pException(P2pError.Transport, $"cannot resolve {host}: no {(family == AddressFamily.InterNetworkV6 ? "IPv6" : family == AddressFamily.InterNetwork ? "IPv4" : "IP")} address");
            }
            return all;
        }
        catch (SocketException e)
        {
            throw new P2pException(P2pError.Transport, $"cannot resolve {host}: {e.Message}", e);
        }
    }

    private async Task AcceptLoopAsync(Socket listener, Multiaddr address)
    {
        while (!_shutdown.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _logger.LogDebug("accept on {Address} failed: {Reason}", address, e.Message);
                continue;
            }
            if (Interlocked.Increment(ref _inbound) > Options.MaxInboundConnections)
            {
                Interlocked.Decrement(ref _inbound);
                if (Interlocked.Exchange(ref _inboundLimitLogged, 1) == 0)
                {
                    _logger.LogWarning("limit reached: {Limit} inbound connections; refusing further dials until one closes", Options.MaxInboundConnections);
                }
                socket.Dispose();
                continue;
            }
            Interlocked.Increment(ref _sockets);
            _ = Tasks.Run(() => HandleInboundAsync(socket), "inbound handshake");
        }
    }

    private async Task HandleInboundAsync(Socket socket)
    {
        TcpConnection tcp;
        try
        {
            tcp = new TcpConnection(socket, SocketReleased);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset before we looked at it.
            socket.Dispose();
            SocketReleased();
            InboundReleased();
            return;
        }
        Multiaddr remote = Multiaddr.FromEndPoint(tcp.RemoteEndPoint);
        PeerConnection connection;
        Interlocked.Increment(ref _handshakes);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        timeout.CancelAfter(Options.HandshakeTimeout);
        try
        {
            await Multistream.ListenAsync(tcp, p => p == NoiseProtocol, () => [NoiseProtocol], timeout.Token).ConfigureAwait(false);
            NoiseResult keys = await NoiseHandshake.RespondAsync(tcp, _noise, timeout.Token).ConfigureAwait(false);
            connection = await PeerConnection.EstablishAsync(this, tcp, keys, ConnectionDirection.Inbound, _logger, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            tcp.Dispose();
            InboundReleased();
            string reason = e switch
            {
                OperationCanceledException when _shutdown.IsCancellationRequested => "the node is shutting down",
                OperationCanceledException => $"the handshake did not finish within {Options.HandshakeTimeout.TotalSeconds:0.#} s",
                P2pException p => p.Reason,
                _ => e.Message,
            };
            _logger.LogWarning("inbound connection from {Address} dropped: {Reason}", remote, reason);
            return;
        }
        finally
        {
            Interlocked.Decrement(ref _handshakes);
        }
        Register(connection);
    }

    private void Register(PeerConnection connection)
    {
        bool shuttingDown;
        lock (_lock)
        {
            shuttingDown = _disposed != 0;
            _connections.Add(connection);
        }
        _ = Tasks.Run(connection.SuperviseAsync, "connection supervisor");
        if (shuttingDown)
        {
            connection.RequestClose("the node is shutting down");
            return;
        }
        _logger.LogDebug("connected to {Peer} at {Address} ({Direction})", connection.RemotePeer, connection.RemoteAddress, connection.Direction);
        Raise(PeerConnected, connection);
        _ = Tasks.Run(() => IdentifyAsync(connection), "identify");
    }

    internal void OnConnectionClosed(PeerConnection connection)
    {
        lock (_lock)
        {
            _connections.Remove(connection);
        }
        if (connection.Direction == ConnectionDirection.Inbound)
        {
            InboundReleased();
        }
        Raise(PeerDisconnected, connection);
    }

    private void InboundReleased()
    {
        if (Interlocked.Decrement(ref _inbound) < Options.MaxInboundConnections)
        {
            Interlocked.Exchange(ref _inboundLimitLogged, 0);
        }
    }

    private void SocketReleased() => Interlocked.Decrement(ref _sockets);

    private void Raise(Action<PeerConnection>? handler, PeerConnection connection)
    {
        try
        {
            handler?.Invoke(connection);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "a connection event handler failed");
        }
    }

    private async Task MaintainAsync()
    {
        using var timer = new PeriodicTimer(Options.MaintenanceInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_shutdown.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                foreach (PeerConnection c in Connections)
                {
                    c.Maintain(now);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The node is shutting down.
        }
    }

    // ---- streams ---------------------------------------------------------------------------------------------

    internal void DispatchInbound(PeerConnection connection, YamuxStream stream) =>
        _ = Tasks.Run(() => ServeStreamAsync(connection, stream), "stream handler");

    private async Task ServeStreamAsync(PeerConnection connection, YamuxStream stream)
    {
        string protocol;
        using (var negotiation = CancellationTokenSource.CreateLinkedTokenSource(connection.ClosingToken))
        {
            negotiation.CancelAfter(Options.NegotiationTimeout);
            try
            {
                protocol = await Multistream.ListenAsync(stream, _handlers.ContainsKey, () => Protocols, negotiation.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                string reason = e is OperationCanceledException ? $"no protocol agreed within {Options.NegotiationTimeout.TotalSeconds:0.#} s" : e.Message;
                _logger.LogDebug("inbound stream from {Peer} reset: {Reason}", connection.RemotePeer, reason);
                stream.Reset();
                return;
            }
        }
        if (!_handlers.TryGetValue(protocol, out StreamHandler? handler))
        {
            stream.Reset();
            return;
        }
        var p2pStream = new P2pStream(stream, protocol, connection);
        try
        {
            await handler(p2pStream, connection.ClosingToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (!connection.IsClosed)
            {
                _logger.LogDebug("the {Protocol} handler for {Peer} failed: {Reason}", protocol, connection.RemotePeer, e.Message);
            }
            p2pStream.Reset();
        }
        finally
        {
            await p2pStream.DisposeAsync().ConfigureAwait(false);
        }
    }

    // ---- identify --------------------------------------------------------------------------------------------

    private byte[] IdentifyMessage(PeerConnection connection) =>
        Identify.Encode(PublicKey, Options.ProtocolVersion, Options.AgentVersion, Addresses, connection.RemoteAddress, Protocols);

    private async Task ServeIdentifyAsync(P2pStream stream, CancellationToken cancellationToken) =>
        await Identify.WriteAsync(stream.Output, IdentifyMessage(stream.Connection), cancellationToken).ConfigureAwait(false);

    private async Task ReceiveIdentifyPushAsync(P2pStream stream, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.NegotiationTimeout);
        byte[] message = await Identify.ReadAsync(stream.Input, timeout.Token).ConfigureAwait(false);
        PeerConnection c = stream.Connection;
        c.SetIdentify(Identify.Decode(message, c.RemotePeer, c.RemotePublicKey, c.RemoteIdentify));
    }

    private async Task IdentifyAsync(PeerConnection connection)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ClosingToken);
            timeout.CancelAfter(Options.NegotiationTimeout);
            await using P2pStream stream = await connection.OpenStreamAsync(Identify.ProtocolId, timeout.Token).ConfigureAwait(false);
            byte[] message = await Identify.ReadAsync(stream.Input, timeout.Token).ConfigureAwait(false);
            IdentifyInfo info = Identify.Decode(message, connection.RemotePeer, connection.RemotePublicKey, connection.RemoteIdentify);
            connection.SetIdentify(info);
            _logger.LogDebug("identified {Peer}: {Agent}, {Count} protocols", connection.RemotePeer, info.AgentVersion, info.Protocols.Count);
        }
        catch (Exception e)
        {
            connection.IdentifyFailed(e);
            if (e is P2pException { Error: P2pError.Protocol })
            {
                connection.RequestClose(((P2pException)e).Reason);
            }
        }
    }

    /// <summary>identify push to every connected peer (our protocols or addresses changed).</summary>
    private void PushIdentify()
    {
        if (_disposed != 0)
        {
            return;
        }
        foreach (PeerConnection c in Connections)
        {
            if (c.IsClosed)
            {
                continue;
            }
            _ = Tasks.Run(async () =>
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(c.ClosingToken);
                    timeout.CancelAfter(Options.NegotiationTimeout);
                    await using P2pStream stream = await c.OpenStreamAsync(Identify.PushProtocolId, timeout.Token).ConfigureAwait(false);
                    await Identify.WriteAsync(stream.Output, IdentifyMessage(c), timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    // Push is best effort: a peer without it still has our first identify answer.
                    _logger.LogDebug("identify push to {Peer} failed: {Reason}", c.RemotePeer, e.Message);
                }
            }, "identify push");
        }
    }

    private static IEnumerable<Multiaddr> Expand(Multiaddr listen)
    {
        if (!listen.TryGetTcpTarget(out string? host, out _, out int port) || !IPAddress.TryParse(host, out IPAddress? ip)
            || !(ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)))
        {
            return [listen];
        }
        var expanded = new List<Multiaddr>();
        try
        {
            foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.OperationalStatus != OperationalStatus.Up && nic.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                {
                    continue;
                }
                foreach (UnicastIPAddressInformation a in nic.GetIPProperties().UnicastAddresses)
                {
                    if (a.Address.AddressFamily == ip.AddressFamily && !a.Address.IsIPv6LinkLocal)
                    {
                        expanded.Add(Multiaddr.FromEndPoint(new IPEndPoint(a.Address, port)));
                    }
                }
            }
        }
        catch (NetworkInformationException)
        {
            return [listen];
        }
        return expanded.Count == 0 ? [listen] : expanded;
    }

    private void ThrowIfDisposed()
    {
        if (_disposed != 0)
        {
            throw new P2pException(P2pError.Closed, "the node is disposed");
        }
    }
}
