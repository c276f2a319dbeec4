using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;

namespace Wetware.Stem.Tests;

/// <summary>
/// A real anvil (contracts/node_modules/@foundry-rs/anvil-linux-amd64, pinned by contracts/package-lock.json and
/// installed by the build) on a port it picks itself (<c>--port 0</c>, so no race for a free port), killed at
/// disposal; a process-exit hook kills any left, so no test run leaves one behind.
/// </summary>
public sealed partial class Anvil : IAsyncDisposable
{
    /// <summary>Anvil's first two dev accounts (the "test test ... junk" mnemonic).</summary>
    public const string OwnerKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    public const string OtherKey = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    public const int ChainId = 31337;

    private static readonly HashSet<Process> Live = [];
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private int _nextId;

    static Anvil()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Live)
            {
                foreach (Process p in Live)
                {
                    try
                    {
                        p.Kill(entireProcessTree: true);
                    }
                    catch (InvalidOperationException)
                    {
                    }
                }
            }
        };
    }

    private Anvil(Process process) => _process = process;

    public int Port { get; private set; }

    public Uri HttpUrl => new($"http://127.0.0.1:{Port}");

    public Uri WebSocketUrl => new($"ws://127.0.0.1:{Port}");

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string RepositoryRoot
    {
        get
        {
            return Repository.Root;
        }
    }

    public static string Binary => Path.Combine(RepositoryRoot, "contracts", "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");

    public static async Task<Anvil> StartAsync(params string[] extraArgs)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"anvil is not installed at {Binary}: run contracts/install.sh (the build does)");
        }
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in (string[])["--port", "0", "--host", "127.0.0.1", .. extraArgs])
        {
            psi.ArgumentList.Add(a);
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("anvil did not start");
        lock (Live)
        {
            Live.Add(process);
        }
        var anvil = new Anvil(process);
        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (anvil._output)
            {
                anvil._output.AppendLine(line);
            }
            Match m = ListeningLine().Match(line);
            if (m.Success)
            {
                listening.TrySetResult(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            anvil.Port = await listening.Task.WaitAsync(TimeSpan.FromSeconds(20));
            // Listening is printed once the socket is bound; wait until it answers a call as well.
            DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (true)
            {
                try
                {
                    await anvil.RpcAsync("eth_chainId");
                    break;
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(50);
                }
            }
        }
        catch (Exception e)
        {
            string output = anvil.Output;
            await anvil.DisposeAsync();
            throw new InvalidOperationException($"anvil did not start: {e.Message}; its output: {output}", e);
        }
        return anvil;
    }

    [GeneratedRegex(@"Listening on [0-9.]+:(\d+)")]
    private static partial Regex ListeningLine();

    /// <summary>A raw JSON-RPC call over HTTP (for anvil's own methods: evm_mine, anvil_reorg, ...).</summary>
    public async Task<JsonNode?> RpcAsync(string method, params JsonNode?[] parameters)
    {
        var request = new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = Interlocked.Increment(ref _nextId),
            ["method"] = method,
            ["params"] = new JsonArray(parameters),
        };
        using HttpResponseMessage response = await _http.PostAsync(HttpUrl, new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"));
        JsonNode answer = JsonNode.Parse(await response.Content.ReadAsStringAsync()) ?? throw new InvalidOperationException($"{method}: empty answer");
        if (answer["error"] is JsonNode error)
        {
            throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
        }
        return answer["result"];
    }

    /// <summary>Mines <paramref name="blocks"/> empty blocks.</summary>
    public async Task MineAsync(int blocks = 1)
    {
        if (blocks > 0)
        {
            await RpcAsync("anvil_mine", "0x" + blocks.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    public async Task<ulong> BlockNumberAsync() => Convert.ToUInt64(((string)(await RpcAsync("eth_blockNumber"))!)[2..], 16);

    public Web3 Web3For(string key) => new(new Account(key, ChainId), HttpUrl.ToString()) { TransactionManager = { UseLegacyAsDefault = false } };

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
        lock (Live)
        {
            Live.Remove(_process);
        }
        _process.Dispose();
        _http.Dispose();
    }
}
