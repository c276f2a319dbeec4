using System.Diagnostics;
using System.Globalization;

namespace Wetware.Capnp.Rpc.Bench;

/// <summary>A server in its own process, listening on the loopback port it printed ("port N").</summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static ServerProcess Start(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardInput = true };
        Process p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}");
        string? line = p.StandardOutput.ReadLine();
        if (line is null || !line.StartsWith("port ", StringComparison.Ordinal))
        {
            p.Kill();
            p.Dispose();
            throw new InvalidOperationException($"{program} did not print its port (it printed \"{line}\")");
        }
        return new ServerProcess(p, int.Parse(line.AsSpan(5), CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
    }
}

/// <summary>The programs of the run: the C++ server and client, and this program's own <c>--serve</c> mode.</summary>
internal sealed class Peers(string cppDirectory)
{
    public string CppServer => Path.Combine(cppDirectory, "echo_server");

    public string CppClient => Path.Combine(cppDirectory, "echo_client");

    /// <summary>Builds the C++ programs with bench/cpp-rpc/build.sh into <paramref name="directory"/>.</summary>
    public static Peers Build(string repositoryRoot, string directory)
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(repositoryRoot, "bench", "cpp-rpc", "build.sh"), directory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"building the C++ RPC benchmark failed (needs g++ and libcapnp-dev): {err.Result}");
        }
        return new Peers(directory);
    }

    public static ServerProcess StartOurServer()
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        // Under `dotnet x.dll` the process is the host: pass it the assembly.
        return Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? ServerProcess.Start(self, typeof(Peers).Assembly.Location, "--serve")
            : ServerProcess.Start(self, "--serve");
    }

    /// <summary>Runs the C++ client against a server on <paramref name="port"/>.</summary>
    public Rates RunCppClient(int port, double seconds, double warmup, int inFlight)
    {
        string[] args =
        [
            $"127.0.0.1:{port}",
            seconds.ToString(CultureInfo.InvariantCulture),
            warmup.ToString(CultureInfo.InvariantCulture),
            inFlight.ToString(CultureInfo.InvariantCulture),
        ];
        var psi = new ProcessStartInfo(CppClient, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var rates = new Dictionary<string, double>();
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = line.Split(' ', 2);
            if (parts[0] is "sequential" or "pipelined")
            {
                rates[parts[0]] = double.Parse(parts[1], CultureInfo.InvariantCulture);
            }
        }
        if (p.ExitCode != 0 || rates.Count != 2)
        {
            throw new InvalidOperationException($"the C++ client failed (exit {p.ExitCode}): {output.Trim()} {err.Result.Trim()}");
        }
        return new Rates(rates["sequential"], rates["pipelined"]);
    }
}
