using System.IO.Pipelines;
using System.Text;
using Wetware.Identity;
using Wetware.P2p.Noise;
using Wetware.P2p.Yamux;

namespace Wetware.P2p.Tests;

/// <summary>
/// Hostile peers at each layer: each is disconnected with a logged reason, a well-behaved peer connected to the
/// same node meanwhile notices nothing, and everything the hostile connection held is released.
/// </summary>
public class HostileTests
{
    private static readonly P2pNodeOptions Fast = new() { HandshakeTimeout = TimeSpan.FromMilliseconds(800) };

    [Fact]
    public async Task GarbageInsteadOfMultistreamSelect() =>
        await ExpectDropAsync(async raw => await raw.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), "multistream-select");

    [Fact]
    public async Task OversizedMultistreamMessage() =>
        await ExpectDropAsync(async raw => await raw.WriteAsync(new byte[] { 0x88, 0x27 }), "a message of 5000 bytes");

    [Fact]
    public async Task MultistreamMessageWithoutNewline() =>
        await ExpectDropAsync(async raw => await raw.WriteAsync((byte[])[19, .. Encoding.ASCII.GetBytes("/multistream/1.0.0 ")]), "without its trailing newline");

    [Fact]
    public async Task OversizedNoiseHandshakeMessage() =>
        await ExpectDropAsync(async raw =>
        {
            await Multistream.SelectAsync(raw.Pipe, ["/noise"], CancellationToken.None);
            // The largest frame the 2-byte length allows, where only a 32-byte ephemeral key belongs.
            await raw.WriteAsync(RawPeer.NoiseMessage(65535));
        }, "handshake message 1 is 65535 bytes");

    [Fact]
    public async Task GarbageNoiseHandshakeMessage() =>
        await ExpectDropAsync(async raw =>
        {
            await Multistream.SelectAsync(raw.Pipe, ["/noise"], CancellationToken.None);
            await raw.WriteAsync(RawPeer.NoiseMessage(32, 0x00));
        }, "low-order X25519 key");

    [Fact]
    public async Task HandshakePayloadWithABadSignature()
    {
        using NodeKey key = NodeKey.Generate();
        NoiseIdentity forged = NoiseIdentity.Create(key.PublicKey, data => key.SignLibp2p([.. data, 1]));
        await ExpectDropAsync(async raw =>
        {
            try
            {
                await raw.SecureAsync(forged);
            }
            catch (P2pException)
            {
                // Our side may notice the drop first.
            }
        }, "does not verify");
    }

    [Fact]
    public async Task NoiseFrameShorterThanItsTag() =>
        await ExpectDropAsync(async raw =>
        {
            await raw.SecureAsync();
            await raw.Tcp.Output.WriteAsync(RawPeer.NoiseMessage(10));
        }, "shorter than its 16-byte tag");

    [Fact]
    public async Task NoiseFrameThatFailsAuthentication() =>
        await ExpectDropAsync(async raw =>
        {
            await raw.SecureAsync();
            await raw.Tcp.Output.WriteAsync(RawPeer.NoiseMessage(65535));
        }, "failed authentication");

    [Fact]
    public async Task YamuxFrameWithAnUnknownVersion() =>
        await ExpectDropAsync(async raw =>
        {
            await raw.MuxAsync();
            await raw.WriteAsync(new byte[] { 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 });
        }, "frame version 1");

    [Fact]
    public async Task YamuxStreamWithOurParity() =>
        await ExpectDropAsync(async raw =>
        {
            await raw.MuxAsync();
            // We dialed, so we are the client and open odd ids; an even id is the listener's.
            await raw.FrameAsync(FrameType.WindowUpdate, FrameFlags.Syn, 2, 0);
        }, "an id of our parity");

    [Fact]
    public async Task YamuxWindowViolation() =>
        await ExpectDropAsync(async raw =>
        {
            await raw.MuxAsync();
            await raw.FrameAsync(FrameType.WindowUpdate, FrameFlags.Syn, 1, 0);
            // The node judges the frame by its header and may drop us before its payload is all written.
            await UntilDroppedAsync(() => raw.FrameAsync(FrameType.Data, FrameFlags.None, 1, YamuxOptions.InitialWindow + 1, new byte[YamuxOptions.InitialWindow + 1]));
        }, "flow-control violation");

    [Fact]
    public async Task YamuxStreamFlood()
    {
        var options = new P2pNodeOptions { MaxStreamsPerConnection = 64, MaxRefusedStreams = 64 };
        await ExpectDropAsync(async raw =>
        {
            await raw.MuxAsync();
            // The node drops us part way through: the writes after that fail.
            await UntilDroppedAsync(async () =>
            {
                for (uint i = 0; i < 200; i++)
                {
                    await raw.FrameAsync(FrameType.WindowUpdate, FrameFlags.Syn, 1 + (2 * i), 0);
                }
            });
        }, "stream flood", options);
    }

    [Fact]
    public async Task StreamsOverTheLimitAreResetWithoutDroppingAnHonestPeer()
    {
        var options = new P2pNodeOptions { MaxStreamsPerConnection = 8 };
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync(options);
        await using var _ = server;
        var hold = new TaskCompletionSource();
        server.SetStreamHandler("/hold/1.0.0", async (s, ct) => await hold.Task.WaitAsync(ct));
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        await c.Identified;
        await Nodes.EventuallyAsync(() => server.Counts.Streams == 0, "identify streams to end");
        var held = new List<P2pStream>();
        for (int i = 0; i < 8; i++)
        {
            held.Add(await c.OpenStreamAsync("/hold/1.0.0"));
        }
        await Assert.ThrowsAnyAsync<P2pException>(() => c.OpenStreamAsync("/hold/1.0.0"));
        Assert.False(c.IsClosed);
        hold.SetResult();
        foreach (P2pStream s in held)
        {
            await s.DisposeAsync();
        }
        await Nodes.EventuallyAsync(() => server.Counts.Streams == 0, "held streams to end");
        await c.PingAsync();
    }

    [Fact]
    public async Task StalledBeforeMultistreamSelect() =>
        await ExpectDropAsync(_ => Task.CompletedTask, "did not finish within 0.8 s", Fast);

    [Fact]
    public async Task StalledInsideTheNoiseHandshake() =>
        await ExpectDropAsync(async raw =>
        {
            await Multistream.SelectAsync(raw.Pipe, ["/noise"], CancellationToken.None);
            await raw.WriteAsync(RawPeer.NoiseMessage(65535)[..100]);
        }, "did not finish within 0.8 s", Fast);

    [Fact]
    public async Task StalledBeforeTheMuxer() =>
        await ExpectDropAsync(async raw => await raw.SecureAsync(), "did not finish within 0.8 s", Fast);

    [Fact]
    public async Task APeerThatNeverAnswersKeepAlivePingsIsClosed()
    {
        var options = new P2pNodeOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(200), MaintenanceInterval = TimeSpan.FromMilliseconds(50) };
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync(options);
        await using var _ = server;
        var closed = new TaskCompletionSource<PeerConnection>();
        server.PeerDisconnected += c => closed.TrySetResult(c);
        await using RawPeer raw = await RawPeer.ConnectAsync(address);
        await raw.MuxAsync();
        // The raw peer reads nothing above Noise, so pings go unanswered.
        PeerConnection gone = await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("keep-alive: no answer to a ping within 0.2 s", gone.CloseReason);
        Assert.True(await raw.WaitForDisconnectAsync(TimeSpan.FromSeconds(5)));
        await Nodes.EventuallyAsync(() => server.Counts is { Connections: 0, Sockets: 0 }, "the silent peer's connection to be released");
    }

    [Fact]
    public async Task AStreamThePeerNeverFinishesIsResetAfterTheLinger()
    {
        var options = new P2pNodeOptions { StreamLingerTimeout = TimeSpan.FromMilliseconds(300), MaintenanceInterval = TimeSpan.FromMilliseconds(50) };
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync(options);
        await using var _ = server;
        // The handler returns at once (its stream is disposed); the client never ends its side.
        server.SetStreamHandler("/quick/1.0.0", (s, ct) => Task.CompletedTask);
        await using P2pNode client = Nodes.New();
        PeerConnection c = await client.DialAsync(address);
        P2pStream stream = await c.OpenStreamAsync("/quick/1.0.0");
        // The handler's FIN arrives first; the client keeps its side open.
        while (true)
        {
            ReadResult r = await stream.Input.ReadAsync();
            stream.Input.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
            {
                break;
            }
        }
        // Then the server's linger expires and it resets the stream: our writes fail from then on.
        var e = await Assert.ThrowsAsync<P2pException>(async () =>
        {
            while (true)
            {
                FlushResult f = await stream.Output.WriteAsync(new byte[] { 1 });
                Assert.False(f.IsCompleted);
                await Task.Delay(20);
            }
        }).WaitAsync(TimeSpan.FromSeconds(10));
        await Nodes.EventuallyAsync(() => server.Counts.Streams == 0 && client.Counts.Streams == 0, "the lingering stream to be released");
        await stream.DisposeAsync();
        await c.PingAsync();
    }

    [Fact]
    public async Task InboundConnectionsOverTheLimitAreRefused()
    {
        var logger = new ListLogger();
        var options = new P2pNodeOptions { MaxInboundConnections = 3 };
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync(options, logger);
        await using var _ = server;
        var clients = new List<P2pNode>();
        for (int i = 0; i < 3; i++)
        {
            P2pNode n = Nodes.New();
            clients.Add(n);
            await n.DialAsync(address);
        }
        await using P2pNode fourth = Nodes.New();
        await Assert.ThrowsAsync<P2pException>(() => fourth.DialAsync(address));
        await logger.WaitForWarningAsync("limit reached: 3 inbound connections");
        await clients[0].DisposeAsync();
        await Nodes.EventuallyAsync(() => server.Counts.InboundConnections == 2, "a slot to free up");
        await (await fourth.DialAsync(address)).PingAsync();
        foreach (P2pNode n in clients.Skip(1))
        {
            await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task ThousandConnectDisconnectCyclesLeaveNothingBehind()
    {
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync();
        await using var _ = server;
        await using P2pNode client = Nodes.New();
        P2pCounts serverBefore = server.Counts;
        P2pCounts clientBefore = client.Counts;
        for (int i = 0; i < 1000; i++)
        {
            PeerConnection c = await client.DialAsync(address);
            if (i % 100 == 0)
            {
                await c.PingAsync();
            }
            await c.CloseAsync();
        }
        await Nodes.EventuallyAsync(() => server.Counts == serverBefore && client.Counts == clientBefore, "both nodes to return to their counts before", TimeSpan.FromSeconds(30));
        Assert.Equal(new P2pCounts(1, 0, 0, 0, 0, 0, 2), server.Counts);
        Assert.Equal(new P2pCounts(0, 0, 0, 0, 0, 0, 1), client.Counts);
    }

    /// <summary>Writes the node is expected to cut short by dropping the connection: a broken pipe ends them quietly.</summary>
    private static async Task UntilDroppedAsync(Func<Task> writes)
    {
        try
        {
            await writes();
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Runs <paramref name="misbehave"/> on a raw connection to a node that also serves an honest peer; checks the
    /// node drops the raw connection with <paramref name="reason"/> logged, the honest peer still pings and streams,
    /// and the node's counts return to the honest peer's alone.
    /// </summary>
    private static async Task ExpectDropAsync(Func<RawPeer, Task> misbehave, string reason, P2pNodeOptions? options = null)
    {
        var logger = new ListLogger();
        (P2pNode server, Multiaddr address) = await Nodes.ListeningAsync(options, logger);
        await using var _ = server;
        server.SetStreamHandler(Echo.ProtocolId, Echo.ServeAsync);
        await using P2pNode honest = Nodes.New();
        PeerConnection good = await honest.DialAsync(address);
        await good.Identified;
        await Nodes.EventuallyAsync(() => server.Counts.Streams == 0, "the honest peer's identify to finish");
        // The identify tasks outlive their streams by a moment: wait for them too, or `before` counts one of them.
        P2pCounts before = await Nodes.SettledCountsAsync(server);

        await using (RawPeer raw = await RawPeer.ConnectAsync(address))
        {
            await misbehave(raw);
            string logged = await logger.WaitForWarningAsync(reason);
            Assert.True(await raw.WaitForDisconnectAsync(TimeSpan.FromSeconds(5)), $"the node did not disconnect the hostile peer ({logged})");
        }

        Assert.False(good.IsClosed);
        await good.PingAsync();
        await using (P2pStream s = await good.OpenStreamAsync(Echo.ProtocolId))
        {
            await Echo.RoundTripAsync(s, 200_000);
        }
        await Nodes.EventuallyAsync(() => server.Counts == before, $"the node's counts to return to {before} (now {server.Counts})");
    }
}
