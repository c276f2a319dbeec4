using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Security.Cryptography;

namespace Wetware.P2p.Protocols;

/// <summary>ping (libp2p ping spec): 32 random bytes, echoed back; the round trip is the answer.</summary>
internal static class Ping
{
    public const string ProtocolId = "/ipfs/ping/1.0.0";
    public const int Size = 32;

    /// <summary>Echoes every 32 bytes until the peer ends the stream.</summary>
    public static async Task ServeAsync(P2pStream stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await stream.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            while (buffer.Length >= Size)
            {
                foreach (ReadOnlyMemory<byte> segment in buffer.Slice(0, Size))
                {
                    stream.Output.Write(segment.Span);
                }
                buffer = buffer.Slice(Size);
            }
            stream.Input.AdvanceTo(buffer.Start, buffer.End);
            FlushResult flush = await stream.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCompleted || flush.IsCompleted)
            {
                return;
            }
        }
    }

    /// <summary>One ping on <paramref name="stream"/>: the round-trip time.</summary>
    public static async Task<TimeSpan> PingOnceAsync(P2pStream stream, CancellationToken cancellationToken)
    {
        byte[] payload = RandomNumberGenerator.GetBytes(Size);
        long started = Stopwatch.GetTimestamp();
        await stream.Output.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            ReadResult result = await stream.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.Length >= Size)
            {
                TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
                bool same = buffer.Slice(0, Size).ToArray().AsSpan().SequenceEqual(payload);
                stream.Input.AdvanceTo(buffer.GetPosition(Size));
                if (!same)
                {
                    throw P2pException.Protocol("ping: the peer answered with other bytes");
                }
                return elapsed;
            }
            stream.Input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new P2pException(P2pError.Closed, "ping: the peer ended the stream");
            }
        }
    }
}
