using System.Globalization;
using Wetware.Capnp.Rpc.Bench;

// Issue 4's RPC benchmark: echo over loopback TCP for the four client/server pairs of C++
// (Debian's libcapnp, the reference) and ours, one call in flight and many; then our client and
// server in one process over a memory pipe: round-trip latency and bytes allocated per call.
// Goals are printed next to the figures; only errors (a wrong reply, a failed peer) fail the run.
if (args.Contains("--serve"))
{
    return await EchoServer.ServeAsync();
}

double seconds = Option("--seconds", 2.0);
double warmup = Option("--warmup", 0.5);
int inFlight = (int)Option("--in-flight", 100);
int calls = (int)Option("--calls", 100_000);
int rounds = Math.Max(1, (int)Option("--rounds", 3));

if (args.Contains("--alloc-profile"))
{
    // Only the in-process run, with the types allocated per call (sampled; a developer's tool).
    using var profile = new AllocationProfile();
    InProcess.Result r = await InProcess.MeasureAsync(calls, warmupCalls: Math.Max(calls / 5, 1000), profile);
    Console.WriteLine(Invariant($"{r.AllocatedBytesPerCall:F0} B per call, p50 {r.P50Microseconds:F1} us; by type (sampled, estimated B per call):"));
    foreach ((string type, double share) in profile.Shares().Take(40))
    {
        Console.WriteLine(Invariant($"  {share * r.AllocatedBytesPerCall,7:F1}  {type}"));
    }
    return 0;
}

string root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "Wetware.slnx")))
{
    root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("run from inside the repository");
}
Peers peers = Peers.Build(root, Path.Combine(AppContext.BaseDirectory, "cpp-rpc"));

Console.WriteLine(Invariant($"RPC echo of a {EchoClient.Text.Length}-byte text over loopback TCP: {seconds:0.##} s per mode after {warmup:0.##} s warmup; pipelined = {inFlight} calls in flight"));
var pairs = new (string Name, Func<Task<Rates>> Run)[]
{
    ("C++  -> C++", () => WithServer(ServerProcess.Start(peers.CppServer, "0"), s => Task.FromResult(peers.RunCppClient(s.Port, seconds, warmup, inFlight)))),
    ("ours -> ours", () => WithServer(Peers.StartOurServer(), s => EchoClient.MeasureAsync(s.Port, seconds, warmup, inFlight))),
    ("ours -> C++", () => WithServer(ServerProcess.Start(peers.CppServer, "0"), s => EchoClient.MeasureAsync(s.Port, seconds, warmup, inFlight))),
    ("C++  -> ours", () => WithServer(Peers.StartOurServer(), s => Task.FromResult(peers.RunCppClient(s.Port, seconds, warmup, inFlight)))),
};
string[] only = Array.IndexOf(args, "--pairs") is int at and >= 0 && at + 1 < args.Length ? args[at + 1].Split(',') : [];
if (only.Length > 0)
{
    // A subset, by client and server initials: cc, oo, oc, co (the reference is always run).
    pairs = [.. pairs.Where((p, i) => i == 0 || only.Contains(Initials(p.Name)))];
}
// The machine is shared: the pairs take turns, round after round, and each reports its median.
var measured = pairs.Select(_ => new List<Rates>()).ToArray();
for (int round = 0; round < rounds; round++)
{
    for (int i = 0; i < pairs.Length; i++)
    {
        measured[i].Add(await pairs[i].Run());
    }
}
Rates[] medians = [.. measured.Select(m => new Rates(Median(m.Select(r => r.Sequential)), Median(m.Select(r => r.Pipelined))))];
Rates reference = medians[0];
Rates ours = pairs.Select((p, i) => (p, i)).Where(x => x.p.Name == "ours -> ours").Select(x => medians[x.i]).FirstOrDefault();
Console.WriteLine(Invariant($"{"client -> server",-16} {"sequential/s",13} {"x C++",6} {"pipelined/s",13} {"x C++",6}   (median of {rounds} round{(rounds == 1 ? "" : "s")})"));
for (int i = 0; i < pairs.Length; i++)
{
    Rates r = medians[i];
    Console.WriteLine(Invariant($"{pairs[i].Name,-16} {r.Sequential,13:F0} {r.Sequential / reference.Sequential,6:F2} {r.Pipelined,13:F0} {r.Pipelined / reference.Pipelined,6:F2}"));
}
if (ours != default)
{
    Console.WriteLine(Invariant($"goal ours -> ours >= 1.0x C++: sequential {Verdict(ours.Sequential >= reference.Sequential)}, pipelined {Verdict(ours.Pipelined >= reference.Pipelined)}"));
}

if (args.Contains("--no-in-process"))
{
    return 0;
}
Console.WriteLine();
InProcess.Result p = await InProcess.MeasureAsync(calls, warmupCalls: Math.Max(calls / 5, 1000));
Console.WriteLine(Invariant($"In process (our client and server over a memory pipe), {p.Calls} sequential calls:"));
Console.WriteLine(Invariant($"  round trip p50 {p.P50Microseconds,8:F1} us   (goal <= 10 us: {Verdict(p.P50Microseconds <= 10)})   p99 {p.P99Microseconds:F1} us"));
Console.WriteLine(Invariant($"  allocated      {p.AllocatedBytesPerCall,8:F0} B per call, both sides   (goal <= 1024 B: {Verdict(p.AllocatedBytesPerCall <= 1024)})"));
return 0;

double Option(string name, double fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

static string Initials(string pair) => string.Concat(pair.Split("->").Select(s => char.ToLowerInvariant(s.Trim()[0])));

static double Median(IEnumerable<double> values)
{
    double[] v = [.. values.Order()];
    return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
}

static string Verdict(bool met) => met ? "pass" : "MISS";

static async Task<Rates> WithServer(ServerProcess server, Func<ServerProcess, Task<Rates>> client)
{
    using (server)
    {
        return await client(server);
    }
}
