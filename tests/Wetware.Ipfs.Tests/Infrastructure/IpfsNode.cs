using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Wetware.Ipfs.Tests;

/// <summary>
/// A real js-ipfs node (tests/interop/ipfs, pinned by its package-lock.json, installed by install.sh on first
/// use): `jsipfs init --profile test` in a temporary repo, then `daemon --offline` with the API, Gateway, RPC
/// (gRPC) and Swarm addresses on ports the system picks (port 0), so parallel nodes never collide. Ready when
/// /api/v0/id answers. Disposing it stops the daemon and deletes the repo; daemon.sh also stops the daemon and
/// deletes the repo when this process dies, so nothing is left behind.
/// </summary>
public sealed partial class IpfsNode : IAsyncLifetime, IAsyncDisposable
{
    private static readonly Lazy<Task> Installed = new(InstallAsync);
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource<Uri> _apiUrl = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _daemon;
    private string? _repo;

    /// <summary>The node's HTTP RPC API, e.g. http://127.0.0.1:40123.</summary>
    public Uri ApiUrl { get; private set; } = new("http://127.0.0.1:1");

    public static string Directory
    {
        get
        {
            return Path.Combine(Repository.Root, "tests", "interop", "ipfs");
        }
    }

    /// <summary>What the daemon printed, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static async Task<IpfsNode> StartAsync()
    {
        var node = new IpfsNode();
        try
        {
            await node.InitializeAsync();
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client of this node; <paramref name="timeout"/> overrides the default per-call limit.</summary>
    public IpfsClient Client(TimeSpan? timeout = null) =>
        new(new IpfsClientOptions { ApiUrl = ApiUrl, Timeout = timeout ?? TimeSpan.FromSeconds(30) });

    public async Task InitializeAsync()
    {
        await Installed.Value;
        _repo = Path.Combine(Path.GetTempPath(), "ww-ipfs-" + Guid.NewGuid().ToString("N"));
        string repo = Path.Combine(_repo, "repo");
        await RunInitAsync(repo);
        ConfigureFreePorts(Path.Combine(repo, "config"));

        var psi = new ProcessStartInfo("bash", [Path.Combine(Directory, "daemon.sh")])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["IPFS_PATH"] = repo;
        psi.Environment["WW_IPFS_DELETE_ON_EXIT"] = _repo;
        _daemon = Process.Start(psi) ?? throw new InvalidOperationException("the js-ipfs daemon did not start");
        _daemon.OutputDataReceived += (_, e) => OnLine(e.Data);
        _daemon.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _daemon.BeginOutputReadLine();
        _daemon.BeginErrorReadLine();

        Task exited = _daemon.WaitForExitAsync();
        Task<Uri> listening = _apiUrl.Task;
        if (await Task.WhenAny(listening, exited, Task.Delay(TimeSpan.FromSeconds(60))) != listening)
        {
            throw new InvalidOperationException($"the js-ipfs daemon did not start listening; it said:\n{Log}");
        }
        ApiUrl = listening.Result;
        await WaitUntilAnswersAsync();
    }

    /// <summary>Stops the daemon (the repo stays until disposal): for tests of a node that goes away.</summary>
    public async Task StopAsync()
    {
        if (_daemon is null || _daemon.HasExited)
        {
            return;
        }
        // Closing stdin makes daemon.sh stop the daemon, as a dying test process would.
        _daemon.StandardInput.Close();
        try
        {
            await _daemon.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException)
        {
            _daemon.Kill(entireProcessTree: true);
            await _daemon.WaitForExitAsync();
        }
    }

    /// <summary>Kills the daemon at once (no clean shutdown), as a crash would.</summary>
    public void Kill()
    {
        if (_daemon is { HasExited: false })
        {
            _daemon.Kill(entireProcessTree: true);
            _daemon.WaitForExit();
        }
    }

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
        {
            try
            {
                await StopAsync();
            }
            finally
            {
                if (!_daemon.HasExited)
                {
                    _daemon.Kill(entireProcessTree: true);
                }
                _daemon.Dispose();
                _daemon = null;
            }
        }
        if (_repo is not null)
        {
            for (int attempt = 0; attempt < 5 && System.IO.Directory.Exists(_repo); attempt++)
            {
                try
                {
                    System.IO.Directory.Delete(_repo, recursive: true);
                }
                catch (IOException) when (attempt < 4)
                {
                    await Task.Delay(200);
                }
            }
            _repo = null;
        }
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    private static async Task RunInitAsync(string repo)
    {
        var psi = new ProcessStartInfo("node", ["node_modules/ipfs/src/cli.js", "init", "--profile", "test"])
        {
            WorkingDirectory = Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["IPFS_PATH"] = repo;
        psi.Environment["NODE_OPTIONS"] = "--import=" + Path.Combine(Directory, "polyfill.mjs");
        using Process init = Process.Start(psi) ?? throw new InvalidOperationException("jsipfs init did not start");
        Task<string> output = init.StandardOutput.ReadToEndAsync();
        Task<string> errors = init.StandardError.ReadToEndAsync();
        try
        {
            await init.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            init.Kill(entireProcessTree: true);
            throw new InvalidOperationException("jsipfs init did not finish within 60 s");
        }
        if (init.ExitCode != 0)
        {
            throw new InvalidOperationException($"jsipfs init failed ({init.ExitCode}): {await output}{await errors}");
        }
    }

    // The test profile already puts API and Gateway on port 0 but leaves the gRPC server on the fixed 5003, where
    // a second node would fail to listen; every address is set here so none depends on the profile.
    private static void ConfigureFreePorts(string configPath)
    {
        JsonNode config = JsonNode.Parse(File.ReadAllText(configPath)) ?? throw new InvalidOperationException("empty js-ipfs config");
        JsonObject addresses = config["Addresses"]?.AsObject() ?? throw new InvalidOperationException("no Addresses in the js-ipfs config");
        addresses["API"] = "/ip4/127.0.0.1/tcp/0";
        addresses["Gateway"] = "/ip4/127.0.0.1/tcp/0";
        addresses["RPC"] = "/ip4/127.0.0.1/tcp/0";
        addresses["Swarm"] = new JsonArray("/ip4/127.0.0.1/tcp/0");
        File.WriteAllText(configPath, config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
        Match m = ApiListening().Match(line);
        if (m.Success)
        {
            _apiUrl.TrySetResult(new Uri($"http://{m.Groups[1].Value}:{m.Groups[2].Value}"));
        }
    }

    private async Task WaitUntilAnswersAsync()
    {
        using IpfsClient client = Client(TimeSpan.FromSeconds(5));
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await client.IdAsync();
                return;
            }
            catch (IpfsException) when (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(100);
            }
            catch (IpfsException e)
            {
                throw new InvalidOperationException($"the js-ipfs node at {ApiUrl} does not answer /api/v0/id: {e.Message}\n{Log}", e);
            }
        }
    }

    private static async Task InstallAsync()
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(Directory, "install.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10));
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"installing the js-ipfs interop packages (npm ci) failed: {await err}");
        }
    }

    [GeneratedRegex(@"HTTP API listening on /ip4/([0-9.]+)/tcp/([0-9]+)")]
    private static partial Regex ApiListening();
}
