using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using Wetware.Identity;
using Wetware.P2p.Noise;
using Wetware.P2p.Transport;
using Wetware.P2p.Yamux;

namespace Wetware.P2p.Tests;

/// <summary>
/// A hand-driven peer for hostile tests: a raw TCP connection on which the test runs as many honest layers as it
/// wants (multistream-select, Noise, the muxer's multistream) before it misbehaves.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly List<Task> _loops = [];

    private RawPeer(TcpConnection tcp)
    {
        Tcp = tcp;
        Pipe = tcp;
    }

    public TcpConnection Tcp { get; }

    /// <summary>The current top layer: the socket, then the Noise channel once <see cref="SecureAsync"/> ran.</summary>
    public IDuplexPipe Pipe { get; private set; }

    public static async Task<RawPeer> ConnectAsync(Multiaddr address)
    {
        address.TryGetTcpTarget(out string? host, out _, out int port);
        TcpConnection tcp = await TcpConnection.ConnectAsync(new IPEndPoint(IPAddress.Parse(host!), port), null, CancellationToken.None);
        return new RawPeer(tcp);
    }

    public async Task WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        await Pipe.Output.WriteAsync(bytes);
    }

    /// <summary>multistream-select for /noise, the Noise handshake as initiator, then Noise transport loops.</summary>
    public async Task<PublicKey> SecureAsync(NoiseIdentity? identity = null)
    {
        await Multistream.SelectAsync(Pipe, ["/noise"], CancellationToken.None);
        using NodeKey key = NodeKey.Generate();
        NoiseIdentity id = identity ?? NoiseIdentity.From(key);
        NoiseResult result = await NoiseHandshake.InitiateAsync(Pipe, id, null, CancellationToken.None);
        var noise = new NoiseChannel(Tcp, result);
        _loops.Add(Task.Run(noise.ReadLoopAsync));
        Pipe = noise;
        return result.RemoteKey;
    }

    /// <summary><see cref="SecureAsync"/>, then multistream-select for /yamux/1.0.0: raw Yamux frames may follow.</summary>
    public async Task MuxAsync()
    {
        await SecureAsync();
        await Multistream.SelectAsync(Pipe, ["/yamux/1.0.0"], CancellationToken.None);
    }

    public async Task FrameAsync(FrameType type, FrameFlags flags, uint stream, uint length, ReadOnlyMemory<byte> data = default)
    {
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader(type, flags, stream, length).Write(header);
        Pipe.Output.Write(header);
        await Pipe.Output.WriteAsync(data);
    }

    /// <summary>Reads until the other side ends the connection; true if it did within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForDisconnectAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                ReadResult r = await Pipe.Input.ReadAsync(cts.Token);
                Pipe.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (Exception)
        {
            // Reset by the peer, or a Noise frame cut short: disconnected all the same.
            return true;
        }
    }

    public static byte[] NoiseMessage(int length, byte fill = 0x41)
    {
        byte[] m = new byte[2 + length];
        BinaryPrimitives.WriteUInt16BigEndian(m, (ushort)length);
        m.AsSpan(2).Fill(fill);
        return m;
    }

    public async ValueTask DisposeAsync()
    {
        Tcp.Dispose();
        try
        {
            await Pipe.Output.CompleteAsync();
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
            // Closed under the loops.
        }
    }
}
