using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Wetware.Cells;
using Wetware.Cells.Bench;

// Issue 5's cell benchmark, in one run: (a) start to exit of a hello guest through our cell (module cached)
// against the same module run in this process by Wasmtime's built-in WASI; (b) reading a 64 MiB image file
// through fd_read against File.ReadAllBytes; (c) starts per second with 64 guests in flight. Figures and
// ratios are printed side by side with the goals; a missed goal is reported, only errors fail the run.
bool quick = args.Contains("--quick");
int starts = (int)Option("--starts", quick ? 300 : 2000);
int rounds = Math.Max(1, (int)Option("--rounds", quick ? 2 : 3));
int reads = Math.Max(1, (int)Option("--reads", quick ? 3 : 7));
int fileMib = (int)Option("--file-mib", 64);
int inFlight = (int)Option("--parallel", 64);
double seconds = Option("--seconds", quick ? 1 : 3);
string guests = Guests.Locate(StringOption("--guests"));
byte[] hello = File.ReadAllBytes(Path.Combine(guests, "hello.wasm"));
byte[] reader = File.ReadAllBytes(Path.Combine(guests, "reader.wasm"));
byte[] spin = File.ReadAllBytes(Path.Combine(guests, "spin.wasm"));
const string HelloText = "hello from a cell\n";

string work = Directory.CreateTempSubdirectory("ww-cellbench-").FullName;
try
{
    using var engine = new CellEngine(new CellEngineOptions { Cache = new ModuleCache(Path.Combine(work, "module-cache")) });
    using var reference = new BuiltinWasi(hello);
    using var pooledReference = new BuiltinWasi(hello, pooled: true);
    Console.WriteLine(Invariant($"Cells benchmark: Wasmtime {CellEngine.WasmtimeVersion}, {Environment.ProcessorCount} cores; hello.wasm {hello.Length} B, reader.wasm {reader.Length} B"));

    // Both sides must really run the guest: check their output once before timing.
    string outPath = Path.Combine(work, "reference-stdout.txt");
    Check(reference.Run(outPath) == 0 && File.ReadAllText(outPath) == HelloText, "the reference's hello did not print its line and exit 0");
    Check(pooledReference.Run(outPath) == 0 && File.ReadAllText(outPath) == HelloText, "the pooled reference's hello did not print its line and exit 0");
    (CellResult checkResult, string checkOut) = await RunCellAsync(engine, hello, new CellOptions { Name = "hello", Args = ["hello"] });
    Check(checkResult.ExitCode == 0 && checkOut == HelloText, $"our hello ended with {checkResult.ExitCode} ({checkResult.Reason}) and printed '{checkOut}'");

    // (a) Start to exit, one at a time, the two sides taking turns round after round. Output is discarded
    // on both sides (/dev/null for the reference, no stdout writer for the cell).
    var helloOptions = new CellOptions { Name = "hello", Args = ["hello"] };
    var referenceTimes = new List<double>();
    var pooledTimes = new List<double>();
    var ourTimes = new List<double>();
    long referenceAllocated = 0;
    long pooledAllocated = 0;
    long ourAllocated = 0;
    int warmup = Math.Max(starts / 10, 50);
    await TimeOurs(warmup, null);
    TimeReference(reference, warmup, null);
    TimeReference(pooledReference, warmup, null);
    for (int round = 0; round < rounds; round++)
    {
        referenceAllocated += TimeReference(reference, starts, referenceTimes);
        ourAllocated += await TimeOurs(starts, ourTimes);
        pooledAllocated += TimeReference(pooledReference, starts, pooledTimes);
    }
    Stats refStart = Stats.Of(referenceTimes);
    Stats pooledStart = Stats.Of(pooledTimes);
    Stats ourStart = Stats.Of(ourTimes);
    double startRatio = ourStart.Median / refStart.Median;
    Console.WriteLine();
    Console.WriteLine(Invariant($"(a) hello start to exit, module cached: {rounds} round(s) x {starts} starts per side, one at a time"));
    Console.WriteLine(Invariant($"    {"",-36} {"median us",10} {"mean us",10} {"alloc/start",12}"));
    Console.WriteLine(Invariant($"    {"reference: Wasmtime WASI, in-thread",-36} {refStart.Median,10:F1} {refStart.Mean,10:F1} {Kib(referenceAllocated, refStart.Count),12}"));
    Console.WriteLine(Invariant($"    {"ours: CellEngine.RunAsync",-36} {ourStart.Median,10:F1} {ourStart.Mean,10:F1} {Kib(ourAllocated, ourStart.Count),12}"));
    Console.WriteLine(Invariant($"    {"ours / reference",-36} {startRatio,9:F2}x {ourStart.Mean / refStart.Mean,9:F2}x   goal <= 1.0x (median): {Verdict(startRatio <= 1.0)}"));
    Console.WriteLine(Invariant($"    {"context: reference, pooled as ours",-36} {pooledStart.Median,10:F1} {pooledStart.Mean,10:F1} {Kib(pooledAllocated, pooledStart.Count),12}   ours / it: {ourStart.Median / pooledStart.Median:F2}x"));

    // (b) A file of the image read to its end through fd_read, against File.ReadAllBytes of the same file
    // (both from the page cache: it is read once before timing). The guest's own start cost (the reader on an
    // empty file) is reported and subtracted.
    string image = Path.Combine(work, "image");
    Directory.CreateDirectory(image);
    string dataPath = Path.Combine(image, "data.bin");
    long fileBytes = (long)fileMib * 1024 * 1024;
    WriteRandomFile(dataPath, fileBytes);
    File.WriteAllBytes(Path.Combine(image, "empty.bin"), []);
    _ = File.ReadAllBytes(dataPath);
    var imageFs = new HostDirectoryImage(image);
    var hostTimes = new List<double>();
    var loopTimes = new List<double>();
    var buffer = new byte[1024 * 1024];
    var guestTimes = new List<double>();
    var emptyTimes = new List<double>();
    for (int i = 0; i < reads + 1; i++)
    {
        long t0 = Stopwatch.GetTimestamp();
        byte[] all = File.ReadAllBytes(dataPath);
        double hostUs = Micros(t0);
        Check(all.Length == fileBytes, "File.ReadAllBytes read a wrong length");
        all = [];
        t0 = Stopwatch.GetTimestamp();
        long looped = ReadLoop(dataPath, buffer);
        double loopUs = Micros(t0);
        Check(looped == fileBytes, "the host's read loop read a wrong length");
        (CellResult readResult, string readOut, double guestUs) = await TimedReadAsync("/data.bin");
        Check(readResult.ExitCode == 0 && readOut == $"bytes={fileBytes}\n", $"the reader ended with {readResult.ExitCode} ({readResult.Reason}) and printed '{readOut.Trim()}'");
        (CellResult emptyResult, string emptyOut, double emptyUs) = await TimedReadAsync("/empty.bin");
        Check(emptyResult.ExitCode == 0 && emptyOut == "bytes=0\n", $"the reader of an empty file ended with {emptyResult.ExitCode} and printed '{emptyOut.Trim()}'");
        if (i > 0)
        {
            // The first pass warms both sides up.
            hostTimes.Add(hostUs);
            loopTimes.Add(loopUs);
            guestTimes.Add(guestUs);
            emptyTimes.Add(emptyUs);
        }
    }
    double hostMs = Stats.MedianOf(hostTimes) / 1000;
    double loopMs = Stats.MedianOf(loopTimes) / 1000;
    double guestMs = Stats.MedianOf(guestTimes) / 1000;
    double readerStartMs = Stats.MedianOf(emptyTimes) / 1000;
    double guestReadMs = Math.Max(guestMs - readerStartMs, 1e-3);
    double hostRate = fileBytes / (hostMs * 1000);
    double loopRate = fileBytes / (loopMs * 1000);
    double guestRate = fileBytes / (guestMs * 1000);
    double guestReadRate = fileBytes / (guestReadMs * 1000);
    Console.WriteLine();
    Console.WriteLine(Invariant($"(b) reading a {fileMib} MiB image file, page cache warm: median of {reads}; reader guest: read(2) into a 1 MiB buffer"));
    Console.WriteLine(Invariant($"    {"",-36} {"ms",10} {"MB/s",10} {"x host",8}"));
    Console.WriteLine(Invariant($"    {"host: File.ReadAllBytes",-36} {hostMs,10:F2} {hostRate,10:F0} {1.0,7:F2}x"));
    Console.WriteLine(Invariant($"    {"ours: reader guest, start to exit",-36} {guestMs,10:F2} {guestRate,10:F0} {guestRate / hostRate,7:F2}x"));
    Console.WriteLine(Invariant($"    {"ours: the same minus its start",-36} {guestReadMs,10:F2} {guestReadRate,10:F0} {guestReadRate / hostRate,7:F2}x   goal >= 0.5x: {Verdict(guestReadRate / hostRate >= 0.5)}"));
    Console.WriteLine(Invariant($"    {"host: read(2) loop, 1 MiB buffer",-36} {loopMs,10:F2} {loopRate,10:F0} {loopRate / hostRate,7:F2}x   (the guest's method, for context)"));
    Console.WriteLine(Invariant($"    (its start: the reader on an empty file, {readerStartMs:F2} ms; ReadAllBytes also pays for a fresh {fileMib} MiB array)"));

    // (c) Throughput with many guests in flight: each worker starts the next hello as soon as its last ended.
    double ourRate = await OursInFlightAsync();
    double referenceRate = ReferenceInFlight(reference);
    double pooledRate = ReferenceInFlight(pooledReference);
    Console.WriteLine();
    Console.WriteLine(Invariant($"(c) hello starts per second, {inFlight} in flight for {seconds:0.##} s"));
    Console.WriteLine(Invariant($"    {"reference: Wasmtime WASI, " + inFlight + " threads",-36} {referenceRate,10:F0} /s"));
    Console.WriteLine(Invariant($"    {"ours: CellEngine.RunAsync",-36} {ourRate,10:F0} /s   {ourRate / referenceRate:F2}x the reference"));
    Console.WriteLine(Invariant($"    {"context: reference, pooled as ours",-36} {pooledRate,10:F0} /s   ours / it: {ourRate / pooledRate:F2}x"));

    // (d) Kill latency (guest-abi.md: within 50 ms): from Cell.Kill to Completion, a guest spinning without host
    // calls (epoch interruption) and one blocked reading its stdin (a host call canceled). After one warm-up kill each.
    var killSpin = new List<double>();
    var killRead = new List<double>();
    for (int i = 0; i < 21; i++)
    {
        var stdout = new Pipe();
        Cell spinning = await engine.StartAsync(spin, new CellOptions { Args = ["spin"], Stdout = stdout.Writer });
        ReadResult first = await stdout.Reader.ReadAsync();
        stdout.Reader.AdvanceTo(first.Buffer.End);
        await Task.Delay(5);
        long t0 = Stopwatch.GetTimestamp();
        spinning.Kill();
        CellResult killed = await spinning.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Check(killed.ExitCode == 137, $"the spinning guest ended with {killed.ExitCode}, not 137");
        if (i > 0)
        {
            killSpin.Add(Micros(t0) / 1000);
        }
        Cell blocked = await engine.StartAsync(spin, new CellOptions { Args = ["spin", "read"], Stdin = new Pipe().Reader });
        await Task.Delay(30); // in its read by then
        t0 = Stopwatch.GetTimestamp();
        blocked.Kill();
        killed = await blocked.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        if (i > 0 && killed.ExitCode == 137)
        {
            killRead.Add(Micros(t0) / 1000);
        }
    }
    Stats spinKill = Stats.Of(killSpin);
    Console.WriteLine();
    Console.WriteLine(Invariant($"(d) kill latency, Cell.Kill to Completion, 20 kills each after a warm-up"));
    Console.WriteLine(Invariant($"    {"spinning, no host calls",-36} median {spinKill.Median,7:F2} ms   worst {killSpin.Max(),7:F2} ms   goal median <= 50 ms: {Verdict(spinKill.Median <= 50)}"));
    if (killRead.Count > 0)
    {
        Stats readKill = Stats.Of(killRead);
        Console.WriteLine(Invariant($"    {"blocked in a host call",-36} median {readKill.Median,7:F2} ms   worst {killRead.Max(),7:F2} ms   goal median <= 50 ms: {Verdict(readKill.Median <= 50)}"));
    }
    return 0;

    // Times `count` reference starts into `times` (if given); returns the bytes allocated meanwhile.
    static long TimeReference(BuiltinWasi reference, int count, List<double>? times)
    {
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < count; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            int code = reference.Run("/dev/null");
            times?.Add(Micros(t0));
            Check(code == 0, $"the reference's hello exited with {code}");
        }
        return GC.GetTotalAllocatedBytes(precise: true) - allocated;
    }

    async Task<long> TimeOurs(int count, List<double>? times)
    {
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < count; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            CellResult result = await engine.RunAsync(hello, helloOptions);
            times?.Add(Micros(t0));
            Check(result.ExitCode == 0, $"our hello ended with {result.ExitCode} ({result.Reason}): {result.Trap}");
        }
        return GC.GetTotalAllocatedBytes(precise: true) - allocated;
    }

    async Task<(CellResult, string, double)> TimedReadAsync(string path)
    {
        long t0 = Stopwatch.GetTimestamp();
        (CellResult result, string output) = await RunCellAsync(engine, reader, new CellOptions { Name = "reader", Args = ["reader", path], Image = imageFs });
        return (result, output, Micros(t0));
    }

    async Task<double> OursInFlightAsync()
    {
        long done = 0;
        bool stop = false;
        async Task Worker()
        {
            while (!Volatile.Read(ref stop))
            {
                CellResult result = await engine.RunAsync(hello, helloOptions);
                Check(result.ExitCode == 0, $"our hello ended with {result.ExitCode} ({result.Reason}): {result.Trap}");
                Interlocked.Increment(ref done);
            }
        }
        Task[] workers = [.. Enumerable.Range(0, inFlight).Select(_ => Task.Run(Worker))];
        double rate = await Window(() => Interlocked.Read(ref done));
        Volatile.Write(ref stop, true);
        await Task.WhenAll(workers);
        return rate;
    }

    double ReferenceInFlight(BuiltinWasi reference)
    {
        long done = 0;
        bool stop = false;
        Exception? failure = null;
        Thread[] threads = [.. Enumerable.Range(0, inFlight).Select(_ => new Thread(() =>
        {
            try
            {
                while (!Volatile.Read(ref stop))
                {
                    Check(reference.Run("/dev/null") == 0, "the reference's hello did not exit 0");
                    Interlocked.Increment(ref done);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true })];
        foreach (Thread t in threads)
        {
            t.Start();
        }
        double rate = Window(() => Interlocked.Read(ref done)).GetAwaiter().GetResult();
        Volatile.Write(ref stop, true);
        foreach (Thread t in threads)
        {
            t.Join();
        }
        return failure is null ? rate : throw failure;
    }

    // Completions per second over `seconds`, after a warmup of a fifth of that.
    async Task<double> Window(Func<long> completed)
    {
        await Task.Delay(TimeSpan.FromSeconds(seconds / 5));
        long before = completed();
        long t0 = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        long after = completed();
        return (after - before) / Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }
}
finally
{
    Directory.Delete(work, recursive: true);
}

static async Task<(CellResult, string)> RunCellAsync(CellEngine engine, byte[] wasm, CellOptions options)
{
    var stdout = new MemoryStream();
    var stderr = new MemoryStream();
    CellResult result = await engine.RunAsync(wasm, new CellOptions
    {
        Name = options.Name,
        Args = options.Args,
        Image = options.Image,
        Stdout = PipeWriter.Create(stdout),
        Stderr = PipeWriter.Create(stderr),
    }).WaitAsync(TimeSpan.FromSeconds(60));
    string error = Encoding.UTF8.GetString(stderr.ToArray());
    Check(error.Length == 0, $"{options.Name} wrote to stderr: {error}");
    return (result, Encoding.UTF8.GetString(stdout.ToArray()));
}

static void WriteRandomFile(string path, long bytes)
{
    var chunk = new byte[1024 * 1024];
    using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
    for (long written = 0; written < bytes; written += chunk.Length)
    {
        RandomNumberGenerator.Fill(chunk);
        file.Write(chunk, 0, (int)Math.Min(chunk.Length, bytes - written));
    }
}

// The guest's method on the host: positional reads into one reused buffer.
static long ReadLoop(string path, byte[] buffer)
{
    using Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle(path);
    long total = 0;
    int n;
    while ((n = RandomAccess.Read(handle, buffer, total)) > 0)
    {
        total += n;
    }
    return total;
}

static void Check(bool ok, string error)
{
    if (!ok)
    {
        throw new InvalidOperationException(error);
    }
}

static double Micros(long since) => Stopwatch.GetElapsedTime(since).TotalMicroseconds;

static string Kib(long bytes, int count) => Invariant($"{bytes / 1024.0 / count:F1} KiB");

static string Verdict(bool met) => met ? "pass" : "MISS";

static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

double Option(string name, double fallback) =>
    StringOption(name) is { } value ? double.Parse(value, CultureInfo.InvariantCulture) : fallback;

string? StringOption(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
