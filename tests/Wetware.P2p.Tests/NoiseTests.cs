using System.Buffers;
using System.IO.Pipelines;
using Wetware.Identity;
using Wetware.P2p.Noise;

namespace Wetware.P2p.Tests;

/// <summary>The Noise XX handshake and transport between two of our ends over memory.</summary>
public class NoiseTests
{
    [Fact]
    public async Task HandshakeProvesBothIdentitiesAndKeysMatch()
    {
        var pair = new DuplexPair();
        using NodeKey a = NodeKey.Generate();
        using var ia = NoiseIdentity.From(a);
        using var ib = Nodes.Ed25519Identity();
        Task<NoiseResult> initiator = NoiseHandshake.InitiateAsync(pair.A, ia, ib.IdentityKey.PeerId, CancellationToken.None);
        NoiseResult responder = await NoiseHandshake.RespondAsync(pair.B, ib, CancellationToken.None);
        NoiseResult i = await initiator;
        Assert.Equal(ib.IdentityKey, i.RemoteKey);
        Assert.Equal(a.PublicKey, responder.RemoteKey);
        Assert.Equal(ib.StaticPublic, i.RemoteStatic);
        Assert.Equal(ia.StaticPublic, responder.RemoteStatic);

        // Transport: both directions, a frame split at the 65519-byte plaintext limit.
        var ca = new NoiseChannel(pair.A, i);
        var cb = new NoiseChannel(pair.B, responder);
        Task[] loops = [ca.ReadLoopAsync(), cb.ReadLoopAsync()];
        byte[] big = Echo.Random(200_000);
        await ca.Output.WriteAsync(big);
        await cb.Output.WriteAsync(new byte[] { 1, 2, 3 });
        Assert.Equal(big, await ReadExactlyAsync(cb.Input, big.Length));
        Assert.Equal([1, 2, 3], await ReadExactlyAsync(ca.Input, 3));
        await ca.Output.CompleteAsync();
        await cb.Output.CompleteAsync();
        await Task.WhenAll(loops);
    }

    [Fact]
    public async Task FramesAreAtMost65535BytesOnTheWire()
    {
        var pair = new DuplexPair();
        var (i, r) = await HandshakeAsync(pair);
        var ca = new NoiseChannel(pair.A, i);
        await ca.Output.WriteAsync(new byte[100_000]);
        await ca.Output.CompleteAsync();
        ReadResult wire = await pair.B.Input.ReadAsync();
        while (!wire.IsCompleted)
        {
            pair.B.Input.AdvanceTo(wire.Buffer.Start, wire.Buffer.End);
            wire = await pair.B.Input.ReadAsync();
        }
        byte[] bytes = wire.Buffer.ToArray();
        Assert.Equal(2 + 65535 + 2 + (100_000 - 65519) + 16, bytes.Length);
        Assert.Equal([0xff, 0xff], bytes[..2]);
        r.Receive.Dispose();
    }

    [Fact]
    public async Task WritesBetweenFlushesShareOneFrameAndEachFlushSealsOne()
    {
        var pair = new DuplexPair();
        var (i, r) = await HandshakeAsync(pair);
        var ca = new NoiseChannel(pair.A, i);
        var cb = new NoiseChannel(pair.B, r);
        ca.Output.Write(new byte[] { 1, 2 });
        ca.Output.Write(new byte[] { 3 });
        await ca.Output.FlushAsync();
        await ca.Output.WriteAsync(new byte[] { 4 });
        ReadResult wire = await pair.B.Input.ReadAsync();
        byte[] bytes = wire.Buffer.ToArray();
        Assert.Equal(2 + 3 + 16 + 2 + 1 + 16, bytes.Length);
        Assert.Equal([0, 19], bytes[..2]);
        Assert.Equal([0, 17], bytes[21..23]);
        // Nothing is sent in clear.
        Assert.NotEqual([1, 2, 3], bytes[2..5]);
        pair.B.Input.AdvanceTo(wire.Buffer.Start);
        Task read = cb.ReadLoopAsync();
        Assert.Equal([1, 2, 3, 4], await ReadExactlyAsync(cb.Input, 4));
        await ca.Output.CompleteAsync();
        await read;
    }

    [Fact]
    public async Task FramesSplitAcrossBuffersDecryptAndAFlippedBitFailsAuthentication()
    {
        var pair = new DuplexPair();
        var (i, r) = await HandshakeAsync(pair);
        var ca = new NoiseChannel(pair.A, i);
        byte[] first = Echo.Random(1000);
        await ca.Output.WriteAsync(first);
        await ca.Output.WriteAsync(new byte[1000]);
        await ca.Output.CompleteAsync();
        ReadResult wire = await pair.B.Input.ReadAsync();
        while (!wire.IsCompleted)
        {
            pair.B.Input.AdvanceTo(wire.Buffer.Start, wire.Buffer.End);
            wire = await pair.B.Input.ReadAsync();
        }
        byte[] frames = wire.Buffer.ToArray();
        pair.B.Input.AdvanceTo(wire.Buffer.End);
        Assert.Equal(2 * (2 + 1000 + 16), frames.Length);
        frames[1018 + 500] ^= 1;

        // Each frame reaches the reader in two buffers, so it is gathered before it is decrypted.
        var split = new DuplexPair();
        var cb = new NoiseChannel(split.B, r);
        Task read = cb.ReadLoopAsync();
        async Task SendSplitAsync(int start)
        {
            await split.A.Output.WriteAsync(frames.AsMemory(start, 300));
            Memory<byte> rest = split.A.Output.GetMemory(8000); // more than the first buffer has left: a new one
            frames.AsMemory(start + 300, 718).CopyTo(rest);
            split.A.Output.Advance(718);
            await split.A.Output.FlushAsync();
        }
        await SendSplitAsync(0);
        Assert.Equal(first, await ReadExactlyAsync(cb.Input, 1000));
        await SendSplitAsync(1018);
        var e = await Assert.ThrowsAsync<P2pException>(() => read);
        Assert.Contains("failed authentication", e.Reason);
    }

    [Fact]
    public async Task DialingAnotherPeerIdFails()
    {
        var pair = new DuplexPair();
        using NodeKey a = NodeKey.Generate();
        using NodeKey b = NodeKey.Generate();
        using NodeKey c = NodeKey.Generate();
        using var ia = NoiseIdentity.From(a);
        using var ib = NoiseIdentity.From(b);
        Task<NoiseResult> initiator = NoiseHandshake.InitiateAsync(pair.A, ia, c.PeerId, CancellationToken.None);
        Task<NoiseResult> responder = NoiseHandshake.RespondAsync(pair.B, ib, CancellationToken.None);
        var e = await Assert.ThrowsAsync<P2pException>(() => initiator);
        Assert.Equal(P2pError.PeerIdMismatch, e.Error);
        Assert.Contains($"dialed {c.PeerId} but the peer proved {b.PeerId}", e.Reason);
        await pair.A.Output.CompleteAsync();
        await Assert.ThrowsAsync<P2pException>(() => responder);
    }

    [Fact]
    public void PayloadChecksRefuseWhatIsMissingOrWrong()
    {
        using NodeKey a = NodeKey.Generate();
        using var ia = NoiseIdentity.From(a);
        Assert.Equal(a.PublicKey, NoiseHandshake.VerifyPayload(ia.Payload, ia.StaticPublic));
        byte[] otherStatic = (byte[])ia.StaticPublic.Clone();
        otherStatic[0] ^= 1;
        Assert.Contains("does not verify", Assert.Throws<P2pException>(() => NoiseHandshake.VerifyPayload(ia.Payload, otherStatic)).Reason);
        Assert.Contains("lacks", Assert.Throws<P2pException>(() => NoiseHandshake.VerifyPayload([], ia.StaticPublic)).Reason);
        byte[] badKey = NoiseIdentity.EncodePayload([8, 0, 18, 1, 0], ia.Signature);
        Assert.Contains("identity key", Assert.Throws<P2pException>(() => NoiseHandshake.VerifyPayload(badKey, ia.StaticPublic)).Reason);
        Assert.Contains("truncated", Assert.Throws<P2pException>(() => NoiseHandshake.VerifyPayload(ia.Payload[..^1], ia.StaticPublic)).Reason);
        // Unknown fields (extensions = 4) are skipped.
        byte[] withExtensions = [.. ia.Payload, 0x22, 0x02, 0x12, 0x00];
        Assert.Equal(a.PublicKey, NoiseHandshake.VerifyPayload(withExtensions, ia.StaticPublic));
    }

    private static async Task<(NoiseResult Initiator, NoiseResult Responder)> HandshakeAsync(DuplexPair pair)
    {
        using NodeKey a = NodeKey.Generate();
        using NodeKey b = NodeKey.Generate();
        using var ia = NoiseIdentity.From(a);
        using var ib = NoiseIdentity.From(b);
        Task<NoiseResult> initiator = NoiseHandshake.InitiateAsync(pair.A, ia, null, CancellationToken.None);
        NoiseResult responder = await NoiseHandshake.RespondAsync(pair.B, ib, CancellationToken.None);
        return (await initiator, responder);
    }

    internal static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int length)
    {
        while (true)
        {
            ReadResult r = await reader.ReadAsync();
            if (r.Buffer.Length >= length)
            {
                byte[] bytes = r.Buffer.Slice(0, length).ToArray();
                reader.AdvanceTo(r.Buffer.GetPosition(length));
                return bytes;
            }
            reader.AdvanceTo(r.Buffer.Start, r.Buffer.End);
            if (r.IsCompleted)
            {
                throw new EndOfStreamException();
            }
        }
    }
}
