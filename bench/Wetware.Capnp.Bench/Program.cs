using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Wetware.Capnp.Bench;

// Runs the C++ reference (bench/cpp) and our BenchmarkDotNet suite side by side in one run,
// then prints each of our times as a ratio to C++.
string root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "Wetware.slnx")))
{
    root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("run from inside the repository");
}
string cppBinary = Build(Path.Combine(root, "bench", "cpp", "build.sh"));
string cppMessage = Path.Combine(Path.GetTempPath(), $"ww-bench-{Environment.ProcessId}.bin");
Dictionary<string, double> cpp = RunCpp(cppBinary, cppMessage);
byte[] cppBytes = File.ReadAllBytes(cppMessage);
File.Delete(cppMessage);
byte[] ourBytes = CapnpBenchmarks.FramedMessage();

bool quick = args.Contains("--quick");
IConfig config = DefaultConfig.Instance.AddJob(quick ? Job.ShortRun : Job.Default).WithOptions(ConfigOptions.DisableOptimizationsValidator);
Summary summary = BenchmarkRunner.Run<CapnpBenchmarks>(config);

Console.WriteLine();
Console.WriteLine($"Message: {cpp["bytes"]:F0} bytes, {cpp["packed_bytes"]:F0} packed; C# builds {(ourBytes.AsSpan().SequenceEqual(cppBytes) ? "the same bytes as C++" : "DIFFERENT bytes from C++")}.");
Console.WriteLine($"{"operation",-10} {"C# ns",10} {"C++ ns",10} {"C#/C++",8} {"C# alloc B",11}");
foreach (BenchmarkReport report in summary.Reports)
{
    string op = report.BenchmarkCase.Descriptor.WorkloadMethod.Name.ToLowerInvariant();
    double ours = report.ResultStatistics?.Median ?? double.NaN;
    long alloc = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase) ?? -1;
    double theirs = cpp.GetValueOrDefault(op, double.NaN);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{op,-10} {ours,10:F1} {theirs,10:F1} {ours / theirs,8:F2} {alloc,11}"));
}

static string Build(string script)
{
    var psi = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true };
    using Process p = Process.Start(psi)!;
    string path = p.StandardOutput.ReadToEnd().Trim().Split('\n')[^1];
    p.WaitForExit();
    if (p.ExitCode != 0)
    {
        throw new InvalidOperationException($"building the C++ benchmark failed ({script})");
    }
    return path;
}

static Dictionary<string, double> RunCpp(string binary, string dumpPath)
{
    var psi = new ProcessStartInfo(binary, [dumpPath]) { RedirectStandardOutput = true };
    using Process p = Process.Start(psi)!;
    var result = new Dictionary<string, double>();
    foreach (string line in p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries))
    {
        string[] parts = line.Split(' ');
        result[parts[0]] = double.Parse(parts[1], CultureInfo.InvariantCulture);
    }
    p.WaitForExit();
    return result;
}
