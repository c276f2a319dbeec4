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
