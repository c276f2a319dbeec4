using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Wetware.Capnp.Rpc.Bench.Schema;

namespace Wetware.Capnp.Rpc.Bench;

/// <summary>Our side of the client: the same calls as bench/cpp-rpc/echo_client.cpp.</summary>
internal static class EchoClient
{
    /// <summary>The payload, 16 bytes as in the C++ client.</summary>
    public const string Text = "0123456789abcdef";

    private static readonly byte[] TextUtf8 = Encoding.UTF8.GetBytes(Text);

    /// <summary>
    /// Calls one at a time until <paramref name="until"/> (a <see cref="Stopwatch"/> timestamp); returns how many.
    /// The call is written out in the loop, not in a helper method, so the loop's one state machine
    /// serves every call: what is allocated per call is the RPC system's.
    /// </summary>
    public static async Task<long> SequentialAsync(Capability echo, long until, long[]? latencies = null)
    {
        long n = 0;
        while (Stopwatch.GetTimestamp() < until && (latencies is null || n < latencies.Length))
        {
            long start = Stopwatch.GetTimestamp();
            using (RpcRequest request = echo.NewRequest(EchoBench.TypeId, EchoBench.Methods.Echo))
            {
                request.Params.InitStruct<EchoBench.EchoParams.Builder>().SetText(Text);
                using RpcResponse response = await request.SendAsync().ConfigureAwait(false);
                Check(response);
            }
            if (latencies is not null)
            {
                latencies[n] = Stopwatch.GetTimestamp() - start;
            }
            n++;
        }
        return n;
    }

    /// <summary>A wrong reply is an error of the benchmark.</summary>
    private static void Check(RpcResponse response)
    {
        Text reply = response.Results.GetStruct<EchoBench.EchoResults.Reader>().Text;
        if (!reply.Utf8.SequenceEqual(TextUtf8))
        {
            throw new InvalidOperationException($"wrong echo reply: \"{reply}\"");
        }
    }

    /// <summary><paramref name="inFlight"/> lanes, each sending its next call as soon as its previous one returns.</summary>
    public static async Task<long> PipelinedAsync(Capability echo, long until, int inFlight)
    {
        long n = 0;
        var lanes = new Task[inFlight];
        for (int i = 0; i < lanes.Length; i++)
        {
            lanes[i] = Lane();
        }
        await Task.WhenAll(lanes).ConfigureAwait(false);
        return n;

        async Task Lane()
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                using (RpcRequest request = echo.NewRequest(EchoBench.TypeId, EchoBench.Methods.Echo))
                {
                    request.Params.InitStruct<EchoBench.EchoParams.Builder>().SetText(Text);
                    using RpcResponse response = await request.SendAsync().ConfigureAwait(false);
                    Check(response);
                }
                Interlocked.Increment(ref n);
            }
        }
    }

    /// <summary>Both modes against a server on a loopback port, each measured for <paramref name="seconds"/> after a warmup.</summary>
    public static async Task<Rates> MeasureAsync(int port, double seconds, double warmup, int inFlight)
    {
        IDuplexPipe transport = await TcpTransport.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).ConfigureAwait(false);
        await using var connection = new RpcConnection(transport);
        connection.Start();
        using Capability echo = await connection.BootstrapAsync().ConfigureAwait(false);

        await SequentialAsync(echo, After(warmup)).ConfigureAwait(false);
        long start = Stopwatch.GetTimestamp();
        long n = await SequentialAsync(echo, After(seconds)).ConfigureAwait(false);
        double sequential = n / Stopwatch.GetElapsedTime(start).TotalSeconds;

        await PipelinedAsync(echo, After(warmup), inFlight).ConfigureAwait(false);
        start = Stopwatch.GetTimestamp();
        n = await PipelinedAsync(echo, After(seconds), inFlight).ConfigureAwait(false);
        double pipelined = n / Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new Rates(sequential, pipelined);
    }

    public static long After(double seconds) => Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
}

/// <summary>Calls per second, one in flight and many in flight.</summary>
internal readonly record struct Rates(double Sequential, double Pipelined);
