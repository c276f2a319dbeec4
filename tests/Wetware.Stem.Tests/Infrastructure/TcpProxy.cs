using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Wetware.Stem.Tests;

/// <summary>
/// A TCP proxy the test controls, between a client and a node: it forwards bytes both ways, and on command drops
/// every connection (reset) or refuses new ones (its port stops listening) until told to accept again.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly ConcurrentDictionary<int, (Socket Client, Socket Server)> _pairs = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _nextPair;
    private int _accepted;

    public TcpProxy(IPEndPoint target)
    {
        _target = target;
        Listen(new IPEndPoint(IPAddress.Loopback, 0));
    }

    public int Port { get; private set; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Resets every open connection; new ones are still accepted.</summary>
    public void DropAll()
    {
        foreach ((int id, (Socket client, Socket server)) in _pairs)
        {
            Reset(client);
            Reset(server);
            _pairs.TryRemove(id, out _);
        }
    }

    /// <summary>Resets every open connection and stops listening: connects are refused until <see cref="AcceptAgain"/>.</summary>
    public async Task RefuseAsync()
    {
        Socket? listener = Interlocked.Exchange(ref _listener, null);
        listener?.Dispose();
        try
        {
            await _acceptLoop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        DropAll();
    }

    /// <summary>Listens again on the same port.</summary>
    public void AcceptAgain() => Listen(new IPEndPoint(IPAddress.Loopback, Port));

    private void Listen(IPEndPoint at)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(at);
        listener.Listen(64);
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        _listener = listener;
        _acceptLoop = Task.Run(() => AcceptLoopAsync(listener));
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                Reset(client);
                server.Dispose();
                continue;
            }
            int id = Interlocked.Increment(ref _nextPair);
            _pairs[id] = (client, server);
            _ = PumpAsync(id, client, server);
            _ = PumpAsync(id, server, client);
        }
    }

    private async Task PumpAsync(int id, Socket from, Socket to)
    {
        byte[] buffer = new byte[16384];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    break;
                }
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        if (_pairs.TryRemove(id, out _))
        {
            Reset(from);
            Reset(to);
        }
    }

    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0); // close with RST: a drop, not a polite close
            socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await RefuseAsync();
        _stop.Dispose();
    }
}
