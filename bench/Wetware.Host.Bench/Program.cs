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
//  - guest->host echo calls per second, a C guest (SDK, tests/sdk-guests/e2e.c) calling the host's
//    Executor.echo over fd 4, one at a time and 100 in flight, against the same echo C# to C# over
//    an in-memory pipe (the host's own Membrane and Executor, grafted the same way).
// Usage: host.sh [--seconds S] [--guest PATH.wasm] [--e2e PATH.wasm]
double seconds = 2;
string? guest = null;
string? e2e = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--seconds": seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--guest": guest = args[++i]; break;
        case "--e2e": e2e = args[++i]; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
guest ??= Path.Combine(AppContext.BaseDirectory, "guests", "hello.wasm");
e2e ??= Path.Combine(AppContext.BaseDirectory, "sdk", "e2e.wasm");
if (!File.Exists(e2e))
{
    Console.Error.WriteLine($"no SDK echo guest at {e2e} (bench/host.sh builds it with guest/sdk/build.sh)");
    return 1;
}
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

// --- guest -> host echo ------------------------------------------------------------------------
// Reference: C# to C# over an in-memory pipe, the executor of the graft above.
async Task<double> CSharpEchoRate(int total, int window)
{
    int next = 0;
    var sw = Stopwatch.StartNew();
    async Task Worker()
    {
        while (Interlocked.Increment(ref next) <= total)
        {
            using var r = await executor.EchoAsync("x");
        }
    }
    await Task.WhenAll(Enumerable.Range(0, window).Select(_ => Task.Run(Worker)));
    return total / sw.Elapsed.TotalSeconds;
}
// The C guest times its own calls (after its graft) and prints rate=.
byte[] e2eWasm = File.ReadAllBytes(e2e);
async Task<double> GuestEchoRate(int total, int window)
{
    var stdout = new MemoryStream();
    Cell cell = await engine.StartAsync(e2eWasm, new CellOptions
    {
        Args = ["e2e", "echo-bench", total.ToString(), window.ToString()],
        Stdout = PipeWriter.Create(stdout),
    });
    await using (cell)
    {
        using Capability m = HostBench.Membrane(host);
        await using var conn = new RpcConnection(cell.Rpc, m);
        conn.Start();
        CellResult r = await cell.Completion;
        string text = System.Text.Encoding.UTF8.GetString(stdout.ToArray());
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"the echo guest exited with {r.ExitCode}: {text}");
        }
        string rate = text.Split(' ', '\n').First(w => w.StartsWith("rate=", StringComparison.Ordinal))[5..];
        return double.Parse(rate, System.Globalization.CultureInfo.InvariantCulture);
    }
}
Console.WriteLine("echo calls per second, a C guest calling the host over fd 4 vs C# to C# over an in-memory pipe (median of 5, interleaved)");
foreach ((int window, int total) in new[] { (1, 20_000), (100, 200_000) })
{
    await GuestEchoRate(total / 10, window);
    await CSharpEchoRate(total / 10, window);
    var guestRates = new List<double>();
    var refRates = new List<double>();
    for (int round = 0; round < 5; round++)
    {
        guestRates.Add(await GuestEchoRate(total, window));
        refRates.Add(await CSharpEchoRate(total, window));
    }
    double gr = Median(guestRates), rr = Median(refRates);
    double ratio = rr / gr;
    Console.WriteLine($"  {(window == 1 ? "sequential  " : "100 in flight")}: guest {gr,9:F0} /s   C#<->C# {rr,9:F0} /s   reference/guest {ratio,5:F2}x   goal <= 2x: {(ratio <= 2 ? "pass" : "MISS")}");
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
