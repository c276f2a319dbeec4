using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Wetware.Capnp.Rpc;
using Wetware.Cells;
using Wetware.Host;
using Wetware.Schema;

// Issue 6's host-side figures, measured side by side in one run:
//  - the epoch guard's cost per call: echo through a guarded capability against the same echo unguarded;
//  - spawn+wait of a trivial child per second, through Executor.runBytes and Process.wait over RPC.
// The guest->host echo figure needs the C guest SDK and comes with it.
// Usage: host.sh [--seconds S] [--guest PATH.wasm]   (the trivial child; default: tests/guests hello, built)
double seconds = 2;
string? guest = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--seconds": seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--guest": guest = args[++i]; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
guest ??= Path.Combine(AppContext.BaseDirectory, "guests", "hello.wasm");
if (!File.Exists(guest))
{
    Console.Error.WriteLine($"no trivial child module at {guest} (bench/host.sh builds tests/guests)");
    return 1;
}

// --- guard overhead -------------------------------------------------------------------------
var epochs = new EpochSource();
using Capability plain = Capability.FromServer(new Echo());
using Capability guarded = epochs.Guard(plain, 0);
using var plainClient = new Executor.Client(plain.Clone());
using var guardedClient = new Executor.Client(guarded.Clone());
double Run(Executor.Client c, int n)
{
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < n; i++)
    {
        using var r = c.EchoAsync("x").GetAwaiter().GetResult();
    }
    return sw.Elapsed.TotalNanoseconds / n;
}
Run(plainClient, 20_000);
Run(guardedClient, 20_000);
var plainNs = new List<double>();
var guardedNs = new List<double>();
int perRound = 200_000;
for (int round = 0; round < 7; round++)
{
    plainNs.Add(Run(plainClient, perRound));
    guardedNs.Add(Run(guardedClient, perRound));
}
double Median(List<double> xs) { xs.Sort(); return xs[xs.Count / 2]; }
double p = Median(plainNs), g = Median(guardedNs);
Console.WriteLine("epoch guard, in-process echo (median of 7 rounds of 200,000 calls, interleaved)");
Console.WriteLine($"  unguarded {p,8:F0} ns/call   guarded {g,8:F0} ns/call   overhead {g - p,6:F0} ns/call   goal <= 200 ns: {(g - p <= 200 ? "pass" : "MISS")}");

// --- spawn + wait -----------------------------------------------------------------------------
byte[] wasm = File.ReadAllBytes(guest);
using var engine = new CellEngine(new CellEngineOptions { Cache = new ModuleCache(Path.Combine(AppContext.BaseDirectory, "module-cache")) });
var host = HostBench.Context(engine, epochs);
var (a, b) = Pair();
using Capability membraneCap = HostBench.Membrane(host);
await using var served = new RpcConnection(b, membraneCap);
await using var client = new RpcConnection(a);
served.Start();
client.Start();
using var membrane = new Membrane.Client(await client.BootstrapAsync());
using var graft = await membrane.GraftAsync(null);
using Executor.Client executor = graft.GetClient<Executor.Client>(graft.Results.Executor)!;
async Task SpawnWait()
{
    var req = executor.NewRunBytes();
    Executor.RunBytesParams.Builder ps = req.Params;
    ps.SetWasm(wasm);
    using var run = await req.Send();
    using Wetware.Schema.Process.Client process = run.GetClient<Wetware.Schema.Process.Client>(run.Results.Process)!;
    using var wait = await process.WaitAsync();
    if (wait.Results.ExitCode != 0)
    {
        throw new InvalidOperationException($"the child exited with {wait.Results.ExitCode}");
    }
}
for (int i = 0; i < 20; i++)
{
    await SpawnWait();
}
foreach (int parallel in new[] { 1, 8 })
{
    int done = 0;
    var sw = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, parallel).Select(async _ =>
    {
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            await SpawnWait();
            Interlocked.Increment(ref done);
        }
    }).ToArray();
    await Task.WhenAll(workers);
    double rate = done / sw.Elapsed.TotalSeconds;
    Console.WriteLine($"spawn+wait of a trivial child over RPC, {parallel} at a time: {rate,8:F0} /s   goal >= 1000/s: {(rate >= 1000 ? "pass" : "MISS")}");
}
return 0;

static (IDuplexPipe, IDuplexPipe) Pair()
{
    var ab = new Pipe();
    var ba = new Pipe();
    return (new Duplex(ba.Reader, ab.Writer), new Duplex(ab.Reader, ba.Writer));
}

internal sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input => input;

    public PipeWriter Output => output;
}

internal sealed class Echo : Executor.Server
{
    public override ValueTask EchoAsync(Executor.EchoParams.Reader @params, Executor.EchoResults.Builder results, CallContext context)
    {
        results.SetResponse(@params.Message.ToString());
        return ValueTask.CompletedTask;
    }
}
