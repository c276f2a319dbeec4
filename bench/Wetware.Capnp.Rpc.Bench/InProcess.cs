using System.Diagnostics;
using System.IO.Pipelines;

namespace Wetware.Capnp.Rpc.Bench;

/// <summary>Our client and our server in this process over an in-memory pipe pair: latency and allocation per call.</summary>
internal static class InProcess
{
    public readonly record struct Result(int Calls, double P50Microseconds, double P99Microseconds, double AllocatedBytesPerCall);

    public static async Task<Result> MeasureAsync(int calls, int warmupCalls, AllocationProfile? profile = null)
    {
        var ab = new Pipe();
        var ba = new Pipe();
        using Capability served = Capability.FromServer(new EchoServer());
        await using var server = new RpcConnection(new DuplexPipe(ab.Reader, ba.Writer), served);
        await using var client = new RpcConnection(new DuplexPipe(ba.Reader, ab.Writer));
        server.Start();
        client.Start();
        using Capability echo = await client.BootstrapAsync().ConfigureAwait(false);

        await EchoClient.SequentialAsync(echo, long.MaxValue, new long[warmupCalls]).ConfigureAwait(false);
        var ticks = new long[calls];
        // Every thread's allocations (client, server, pipes, thread pool), not just this one's.
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        profile?.Start();
        await EchoClient.SequentialAsync(echo, long.MaxValue, ticks).ConfigureAwait(false);
        profile?.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Array.Sort(ticks);
        return new Result(calls, Micros(ticks[calls / 2]), Micros(ticks[(int)(calls * 0.99)]), (double)allocated / calls);
    }

    private static double Micros(long ticks) => ticks * 1e6 / Stopwatch.Frequency;

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
