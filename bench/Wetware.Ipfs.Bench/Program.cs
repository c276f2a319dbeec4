using System.Diagnostics;
using System.Globalization;
using Wetware.Ipfs;

// `cat` of one file through IpfsClient against curl of the same HTTP call (the reference), alternating, on a
// node bench/ipfs.sh started. Prints each round, the medians and the ratio (goal: at least 0.8x).
var url = new Uri(Arg("--api-url") ?? "http://127.0.0.1:5001");
int mib = int.Parse(Arg("--mib") ?? "100", CultureInfo.InvariantCulture);
int rounds = int.Parse(Arg("--rounds") ?? "7", CultureInfo.InvariantCulture);
long size = (long)mib << 20;

using var client = new IpfsClient(new IpfsClientOptions { ApiUrl = url });
Cid cid = await client.AddAsync(new RandomStream(size));
Console.WriteLine($"node {(await client.IdAsync()).AgentVersion} at {url}; cat of {mib} MiB ({cid}), {rounds} rounds each");

var ours = new List<double>();
var curls = new List<double>();
var buffer = new byte[128 << 10];
// One warm-up of each, not counted.
await OursAsync();
await CurlAsync();
for (int i = 0; i < rounds; i++)
{
    double a = await OursAsync();
    double b = await CurlAsync();
    ours.Add(a);
    curls.Add(b);
    Console.WriteLine($"round {i + 1}: IpfsClient {a:F1} MiB/s   curl {b:F1} MiB/s");
}
double oursMedian = Median(ours);
double curlMedian = Median(curls);
Console.WriteLine($"median: IpfsClient {oursMedian:F1} MiB/s   curl {curlMedian:F1} MiB/s   ratio {oursMedian / curlMedian:F2}x (goal >= 0.8x)");

// cat of 16 MiB through the ipfs capability, from a C guest (SDK, tests/sdk-guests/e2e.c: it times its own
// cats, after its graft) against the same cat through IpfsClient directly (CatBytesAsync, as the host does).
string? guest = Arg("--e2e");
if (guest is null)
{
    Console.WriteLine("(no --e2e guest: the capability figure is skipped)");
    return 0;
}
const int capMib = 16;
const int cats = 5;
Cid small = await client.AddAsync(new RandomStream((long)capMib << 20));
byte[] e2e = File.ReadAllBytes(guest);
using var engine = new Wetware.Cells.CellEngine(new Wetware.Cells.CellEngineOptions { Cache = new Wetware.Cells.ModuleCache(Path.Combine(AppContext.BaseDirectory, "module-cache")) });
object host = Wetware.Host.HostBench.Context(engine, new Wetware.Host.EpochSource(), client);
async Task<double> GuestCatAsync()
{
    var stdout = new MemoryStream();
    Wetware.Cells.Cell cell = await engine.StartAsync(e2e, new Wetware.Cells.CellOptions
    {
        Args = ["e2e", "ipfs", $"catbench:{cats}:/ipfs/{small}"],
        Stdout = System.IO.Pipelines.PipeWriter.Create(stdout),
    });
    await using (cell)
    {
        using Wetware.Capnp.Rpc.Capability m = Wetware.Host.HostBench.Membrane(host);
        await using var conn = new Wetware.Capnp.Rpc.RpcConnection(cell.Rpc, m);
        conn.Start();
        Wetware.Cells.CellResult r = await cell.Completion;
        string text = System.Text.Encoding.UTF8.GetString(stdout.ToArray());
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"the guest exited with {r.ExitCode}: {text}");
        }
        string rate = text.Split(' ', '\n').First(w => w.StartsWith("rate=", StringComparison.Ordinal))[5..];
        return double.Parse(rate, CultureInfo.InvariantCulture) / (1 << 20);
    }
}
async Task<double> DirectCatAsync()
{
    var clock = Stopwatch.StartNew();
    long total = 0;
    for (int i = 0; i < cats; i++)
    {
        total += (await client.CatBytesAsync("/ipfs/" + small, 64 << 20)).Length;
    }
    return total / clock.Elapsed.TotalSeconds / (1 << 20);
}
await GuestCatAsync();
await DirectCatAsync();
var viaGuest = new List<double>();
var direct = new List<double>();
for (int i = 0; i < rounds; i++)
{
    viaGuest.Add(await GuestCatAsync());
    direct.Add(await DirectCatAsync());
}
double g = Median(viaGuest), d = Median(direct);
Console.WriteLine($"cat of {capMib} MiB x {cats}, median of {rounds}: guest through the ipfs capability {g:F1} MiB/s   IpfsClient directly {d:F1} MiB/s   ratio {g / d:F2}x (goal >= 0.5x)");
return 0;

async Task<double> OursAsync()
{
    var clock = Stopwatch.StartNew();
    long total = 0;
    await using (Stream stream = await client.CatAsync(cid.ToString()))
    {
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            total += n;
        }
    }
    Check(total);
    return mib / clock.Elapsed.TotalSeconds;
}

async Task<double> CurlAsync()
{
    // curl's own time_total, so its process start is not counted against it.
    var psi = new ProcessStartInfo("curl", ["-sS", "-X", "POST", "-o", "/dev/null", "-w", "%{time_total} %{size_download}",
        new Uri(url, $"api/v0/cat?arg={cid}").ToString()])
    {
        RedirectStandardOutput = true,
    };
    using Process p = Process.Start(psi)!;
    string output = await p.StandardOutput.ReadToEndAsync();
    await p.WaitForExitAsync();
    string[] parts = output.Split(' ');
    Check(long.Parse(parts[1], CultureInfo.InvariantCulture));
    return mib / double.Parse(parts[0], CultureInfo.InvariantCulture);
}

void Check(long total)
{
    if (total != size)
    {
        throw new InvalidOperationException($"cat gave {total} bytes, not {size}");
    }
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

// Incompressible bytes made as they are read.
sealed class RandomStream(long length) : Stream
{
    private readonly Random _random = new(1);
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = (int)Math.Min(buffer.Length, length - _position);
        _random.NextBytes(buffer[..n]);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
