using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Wetware.Identity;

namespace Wetware.P2p.Tests;

/// <summary>
/// A js-libp2p v2 peer (tests/interop/libp2p-js/peer.mjs, pinned by its package-lock.json, installed with
/// `npm ci` by install.sh on first use). It listens on IPv4 and IPv6 loopback and takes JSON-line commands.
/// </summary>
public sealed class JsPeer : IAsyncDisposable
{
    private static readonly Lazy<Task> Installed = new(InstallAsync);
    private readonly Process _process;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonNode>> _pending = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<JsonNode> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextId;

    private JsPeer(Process process)
    {
        _process = process;
    }

    public PeerId PeerId { get; private set; }

    public string KeyType { get; private set; } = "";

    public IReadOnlyList<Multiaddr> Addresses { get; private set; } = [];

    /// <summary>The IPv4 address with /p2p/.</summary>
    public Multiaddr Ip4 => Addresses.First(a => a.Components[0].Protocol == "ip4");

    /// <summary>The IPv6 address with /p2p/.</summary>
    public Multiaddr Ip6 => Addresses.First(a => a.Components[0].Protocol == "ip6");

    public static string Directory
    {
        get
        {
            return Path.Combine(Repository.Root, "tests", "interop", "libp2p-js");
        }
    }

    public static async Task<JsPeer> StartAsync(string keyType)
    {
        await Installed.Value;
        var psi = new ProcessStartInfo("node", ["--import", "./polyfill.mjs", "peer.mjs", "--key", keyType])
        {
            WorkingDirectory = Directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var peer = new JsPeer(process);
        process.OutputDataReceived += (_, e) => peer.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            lock (peer._stderr)
            {
                peer._stderr.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        JsonNode ready;
        try
        {
            ready = await peer._ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            await peer.DisposeAsync();
            throw new InvalidOperationException($"the js peer did not start: {peer.Stderr}");
        }
        peer.PeerId = PeerId.Parse(ready["peerId"]!.GetValue<string>());
        peer.KeyType = ready["keyType"]!.GetValue<string>();
        peer.Addresses = [.. ready["addrs"]!.AsArray().Select(a => Multiaddr.Parse(a!.GetValue<string>()))];
        return peer;
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Sends a command; returns the answer (with "ok" true or false and "error").</summary>
    public async Task<JsonNode> CallAsync(JsonObject command, TimeSpan? timeout = null)
    {
        int id = Interlocked.Increment(ref _nextId);
        command["id"] = id;
        var answer = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        lock (_process)
        {
            _process.StandardInput.WriteLine(command.ToJsonString());
            _process.StandardInput.Flush();
        }
        try
        {
            return await answer.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the js peer did not answer {command.ToJsonString()}; its stderr: {Stderr}");
        }
    }

    /// <summary>Sends a command that must succeed.</summary>
    public async Task<JsonNode> CallOkAsync(JsonObject command, TimeSpan? timeout = null)
    {
        JsonNode answer = await CallAsync(command, timeout);
        if (!answer["ok"]!.GetValue<bool>())
        {
            throw new InvalidOperationException($"js peer: {command["cmd"]} failed: {answer["error"]}");
        }
        return answer;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await CallAsync(new JsonObject { ["cmd"] = "stop" }, TimeSpan.FromSeconds(5));
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidOperationException)
        {
            // Killed below.
        }
        finally
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            _process.Dispose();
        }
    }

    private void OnLine(string? line)
    {
        if (string.IsNullOrWhiteSpace(line) || line[0] != '{')
        {
            return;
        }
        JsonNode node = JsonNode.Parse(line)!;
        if (node["event"]?.GetValue<string>() == "ready")
        {
            _ready.TrySetResult(node);
        }
        else if (node["id"] is { } id && _pending.TryRemove(id.GetValue<int>(), out var answer))
        {
            answer.TrySetResult(node);
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
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"installing the js-libp2p interop packages (npm ci) failed: {await err}");
        }
    }
}
