using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using P = Wetware.Capnp.Rpc.Tests.Protocol;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>
/// A TCP relay between a client and a server that records every message the client sends and can
/// hold back the server's bytes (a closed gate), to show on the wire what was sent before any answer came.
/// </summary>
internal sealed class WireTap : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly int _serverPort;
    private readonly List<(P.Message.Which Kind, uint Question, P.MessageTarget.Which Target, uint TargetQuestion)> _sent = [];
    private readonly CancellationTokenSource _stop = new();
    private volatile TaskCompletionSource _gate = Open();
    private Task? _relay;

    public WireTap(int serverPort)
    {
        _serverPort = serverPort;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _relay = Task.Run(RelayAsync);
    }

    public int Port { get; }

    private static TaskCompletionSource Open()
    {
        var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        t.SetResult();
        return t;
    }

    /// <summary>Holds the server's bytes back until <see cref="OpenGate"/>.</summary>
    public void CloseGate() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void OpenGate() => _gate.TrySetResult();

    /// <summary>The messages the client has sent so far: kind, question id (Call/Bootstrap), and a Call's target.</summary>
    public List<(P.Message.Which Kind, uint Question, P.MessageTarget.Which Target, uint TargetQuestion)> Sent
    {
        get
        {
            lock (_sent)
            {
                return [.. _sent];
            }
        }
    }

    private async Task RelayAsync()
    {
        using Socket client = await _listener.AcceptAsync(_stop.Token);
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _serverPort), _stop.Token);
        var tap = new Pipe();
        Task up = CopyAsync(client, server, tap.Writer, null);
        Task down = CopyAsync(server, client, null, this);
        Task parse = ParseAsync(tap.Reader);
        await Task.WhenAny(up, down);
        client.Close();
        server.Close();
        await tap.Writer.CompleteAsync();
        await parse;
    }

    private async Task CopyAsync(Socket from, Socket to, PipeWriter? tap, WireTap? gated)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    return;
                }
                if (tap is not null)
                {
                    await tap.WriteAsync(buffer.AsMemory(0, n));
                }
                if (gated is not null)
                {
                    await gated._gate.Task.WaitAsync(_stop.Token);
                }
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private async Task ParseAsync(PipeReader reader)
    {
        var options = ReaderOptions.Default with { TraversalLimitWords = long.MaxValue / 2 };
        while (await Framing.ReadMessageAsync(reader, options) is { } m)
        {
            using (m)
            {
                P.Message.Reader r = m.GetRoot<P.Message.Reader>();
                (P.Message.Which, uint, P.MessageTarget.Which, uint) entry = r.Which switch
                {
                    P.Message.Which.Call => (r.Which, r.Call.QuestionId, r.Call.Target.Which,
                        r.Call.Target.Which == P.MessageTarget.Which.PromisedAnswer ? r.Call.Target.PromisedAnswer.QuestionId : r.Call.Target.ImportedCap),
                    P.Message.Which.Bootstrap => (r.Which, r.Bootstrap.QuestionId, default, 0),
                    _ => (r.Which, 0, default, 0),
                };
                lock (_sent)
                {
                    _sent.Add(entry);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        OpenGate();
        _stop.Cancel();
        _listener.Close();
        if (_relay is not null)
        {
            try
            {
                await _relay;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
        _stop.Dispose();
    }
}
