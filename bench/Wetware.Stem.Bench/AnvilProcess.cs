using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Wetware.Stem.Bench;

/// <summary>The pinned anvil (contracts/node_modules) on a port it picks, with raw JSON-RPC over HTTP; killed at disposal.</summary>
internal sealed class AnvilProcess : IDisposable
{
    public const string OwnerKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    private readonly Process _process;
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(60) };
    private int _id;

    private AnvilProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public Uri HttpUrl => new($"http://127.0.0.1:{Port}");

    public Uri WebSocketUrl => new($"ws://127.0.0.1:{Port}");

    public HttpClient Http => _client;

    public static async Task<AnvilProcess> StartAsync(string root, params string[] extraArgs)
    {
        string path = Path.Combine(root, "contracts", "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");
        var psi = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["--port", "0", "--host", "127.0.0.1", .. extraArgs])
        {
            psi.ArgumentList.Add(a);
        }
        Process process = Process.Start(psi) ?? throw new InvalidOperationException($"{path} did not start");
        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            Match m = Regex.Match(e.Data ?? "", @"Listening on [0-9.]+:(\d+)");
            if (m.Success)
            {
                listening.TrySetResult(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            return new AnvilProcess(process, await listening.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    public async Task<JsonNode?> RpcAsync(string method, params JsonNode?[] ps)
    {
        var body = new JsonObject { ["jsonrpc"] = "2.0", ["id"] = Interlocked.Increment(ref _id), ["method"] = method, ["params"] = new JsonArray(ps) };
        using HttpResponseMessage r = await _client.PostAsync(HttpUrl, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        JsonNode answer = JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
        return answer["error"] is JsonNode err ? throw new InvalidOperationException($"{method}: {err.ToJsonString()}") : answer["result"];
    }

    public async Task<ulong> TipAsync() => Convert.ToUInt64(((string)(await RpcAsync("eth_blockNumber"))!)[2..], 16);

    public Task MineAsync(int blocks) => RpcAsync("anvil_mine", "0x" + blocks.ToString("x", CultureInfo.InvariantCulture));

    public void Dispose()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
        _client.Dispose();
    }
}
