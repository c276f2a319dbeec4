using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;

namespace Wetware.P2p.Tests;

/// <summary>The echo protocol of the interop tests: everything read is written back, until the peer's FIN.</summary>
internal static class Echo
{
    public const string ProtocolId = "/ww-test/echo/1.0.0";

    public static async Task ServeAsync(P2pStream stream, CancellationToken cancellationToken)
    {
        await stream.Input.CopyToAsync(stream.Output, cancellationToken);
        await stream.Output.CompleteAsync();
    }

    /// <summary>Sends <paramref name="bytes"/> pseudo-random bytes while reading the echo; checks it byte for byte.</summary>
    public static async Task RoundTripAsync(P2pStream stream, long bytes, int seed = 1)
    {
        Task send = Task.Run(async () =>
        {
            var random = new Random(seed);
            byte[] chunk = new byte[64 * 1024];
            long left = bytes;
            while (left > 0)
            {
                int n = (int)Math.Min(chunk.Length, left);
                random.NextBytes(chunk.AsSpan(0, n));
                FlushResult r = await stream.Output.WriteAsync(chunk.AsMemory(0, n));
                if (r.IsCompleted)
                {
                    throw new InvalidOperationException("the stream stopped taking data");
                }
                left -= n;
            }
            await stream.Output.CompleteAsync();
        });
        var expected = new Random(seed);
        byte[] want = new byte[64 * 1024];
        long received = 0;
        int wantFill = 0;
        int wantUsed = 0;
        while (true)
        {
            ReadResult result = await stream.Input.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                ReadOnlySpan<byte> got = segment.Span;
                while (!got.IsEmpty)
                {
                    if (wantUsed == wantFill)
                    {
                        wantFill = (int)Math.Min(want.Length, bytes - received);
                        if (wantFill <= 0)
                        {
                            throw new InvalidOperationException("the echo sent more than was sent to it");
                        }
                        expected.NextBytes(want.AsSpan(0, wantFill));
                        wantUsed = 0;
                    }
                    int n = Math.Min(got.Length, wantFill - wantUsed);
                    if (!got[..n].SequenceEqual(want.AsSpan(wantUsed, n)))
                    {
                        throw new InvalidOperationException($"the echo differs near byte {received}");
                    }
                    wantUsed += n;
                    received += n;
                    got = got[n..];
                }
            }
            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }
        await send;
        Assert.Equal(bytes, received);
    }

    public static byte[] Random(int n) => RandomNumberGenerator.GetBytes(n);
}
