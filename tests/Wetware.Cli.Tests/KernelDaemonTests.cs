using System.Text.Json;
using Wetware.Cli.Tests.Infrastructure;

namespace Wetware.Cli.Tests;

/// <summary>
/// The standard kernel's daemon mode (shared/spec/shell.md), the built <c>ww run</c> behind pipes: its
/// events are JSON lines on stderr, end of input stops it.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KernelDaemonTests(BuiltGuests guests) : IClassFixture<BuiltGuests>, IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-daemon-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    private static List<JsonElement> Events(string stderr) =>
        [.. stderr.Split('\n').Where(l => l.StartsWith("{\"event\"", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l).RootElement)];

    private static bool Has(string stderr, Func<JsonElement, bool> match) => Events(stderr).Any(match);

    private static bool Is(JsonElement e, string name, string? service = null) =>
        e.GetProperty("event").GetString() == name && (service is null || e.GetProperty("service").GetString() == service);

    [Fact]
    public async Task TheReadyLineIsJsonWithTheNodesPeerIdAndEndOfInputExitsZero()
    {
        string key = Path.Combine(_scratch, "node.key");
        await using (WwProcess keygen = WwProcess.WithPipes("keygen", "--output", key))
        {
            Assert.Equal(0, await keygen.ExitAsync());
        }
        string peerId;
        await using (WwProcess id = WwProcess.WithPipes("id", "--identity", key))
        {
            Assert.Equal(0, await id.ExitAsync());
            peerId = id.Output.Split('\n').Single(l => l.StartsWith("Peer ID: ", StringComparison.Ordinal))["Peer ID: ".Length..].Trim();
        }

        await using WwProcess ww = WwProcess.WithPipes("run", "--port", "0", "--identity", key);
        string stderr = await ww.WaitForAsync("{\"event\":\"ready\"", stderr: true);
        string ready = stderr.Split('\n').Single(l => l.Contains("\"ready\"", StringComparison.Ordinal));
        using (JsonDocument doc = JsonDocument.Parse(ready))
        {
            Assert.Equal("ready", doc.RootElement.GetProperty("event").GetString());
            Assert.Equal(peerId, doc.RootElement.GetProperty("peer_id").GetString());
        }
        Assert.False(ww.Error.Contains("\"stopped\"", StringComparison.Ordinal)); // it waits for the end of its input
        ww.CloseInput();
        Assert.Equal(0, await ww.ExitAsync());
        Assert.Contains("{\"event\":\"stopped\"}", ww.Error);
    }

    [Fact]
    public async Task ServicesStartAndOneThatCrashesIsRestartedWithBackOff()
    {
        string layer = Path.Combine(_scratch, "layer");
        Directory.CreateDirectory(Path.Combine(layer, "svc", "crash"));
        Directory.CreateDirectory(Path.Combine(layer, "svc", "fine", "boot"));
        Directory.CreateDirectory(Path.Combine(layer, "svc", "empty"));
        Directory.CreateDirectory(Path.Combine(layer, "etc"));
        File.Copy(Path.Combine(guests.Tests, "exit3.wasm"), Path.Combine(layer, "svc", "crash", "main.wasm"));
        File.Copy(Path.Combine(guests.Tests, "hello.wasm"), Path.Combine(layer, "svc", "fine", "boot", "main.wasm"));
        // Bootstrap peers that cannot be dialed are logged; the daemon goes on.
        File.WriteAllText(Path.Combine(layer, "etc", "bootstrap"), "# peers\n/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi\nnot-an-address\n");

        await using WwProcess ww = WwProcess.WithPipes("run", "--port", "0", "@std", layer);
        await ww.WaitForAsync("{\"event\":\"ready\"", stderr: true);
        // crash exits 3 and is started again, after 100 ms, then 200 ms...
        string seen = await ww.WaitUntilAsync(t => Events(t).Count(e => Is(e, "service-start", "crash")) >= 3, "three starts of the crashing service", stderr: true);
        var exits = Events(seen).Where(e => Is(e, "service-exit", "crash")).ToList();
        Assert.True(exits.Count >= 2);
        Assert.All(exits, e => Assert.Equal(3, e.GetProperty("code").GetInt32()));
        Assert.Equal(100, exits[0].GetProperty("restart_in_ms").GetInt32());
        Assert.Equal(200, exits[1].GetProperty("restart_in_ms").GetInt32());
        Assert.Contains("exit3 ran", seen); // a service's output reaches the daemon's stderr

        // fine exits 0 and stays stopped; empty has no module; the bad bootstrap lines are logged.
        seen = await ww.WaitUntilAsync(t => Has(t, e => Is(e, "service-exit", "fine")) && Events(t).Count(e => e.GetProperty("event").GetString() == "bootstrap-failed") == 2, "fine's exit and two failed dials", stderr: true);
        JsonElement fineExit = Events(seen).Single(e => Is(e, "service-exit", "fine"));
        Assert.Equal(0, fineExit.GetProperty("code").GetInt32());
        Assert.False(fineExit.TryGetProperty("restart_in_ms", out _));
        Assert.Contains(Events(seen), e => Is(e, "service-failed", "empty"));

        ww.CloseInput();
        Assert.Equal(0, await ww.ExitAsync());
        Assert.Single(Events(ww.Error), e => Is(e, "service-start", "fine"));
        Assert.Contains("{\"event\":\"stopped\"}", ww.Error);
    }

    [Fact]
    public async Task TheExportedMembraneRefusesGraftsWithoutAnAuthorizedSigner()
    {
        // graftprobe (pid0) runs the kernel as a child in daemon mode and grafts onto what it exports.
        // The child sees no image, so it has no /etc/authorized_keys: nobody may graft.
        string image = Path.Combine(_scratch, "probe");
        Directory.CreateDirectory(Path.Combine(image, "boot"));
        File.Copy(Path.Combine(guests.SdkTests, "graftprobe.wasm"), Path.Combine(image, "boot", "main.wasm"));
        File.Copy(Path.Combine(guests.Std, "boot", "main.wasm"), Path.Combine(image, "kernel.wasm"));

        await using WwProcess ww = WwProcess.WithPipes("run", "--port", "0", image);
        ww.CloseInput();
        Assert.Equal(0, await ww.ExitAsync());
        Assert.Equal(
            "ready: yes\nunsigned: graft auth failed: missing signer\nsigned: graft auth failed: key not authorized\nepoch: 0\nexit: 0\n",
            ww.Output);
    }

    /// <summary>A TCP port free a moment ago (ww logs its listen address only at info; tests run it at warn).</summary>
    internal static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A daemon (the standard kernel behind pipes) with its own key, listening on a known port, ready.</summary>
    internal static async Task<(WwProcess Ww, Identity.PeerId Peer, int Port)> StartDaemonAsync(string scratch, string name, string layer)
    {
        string key = Path.Combine(scratch, name + ".key");
        using Identity.NodeKey k = Identity.NodeKey.Generate();
        k.Save(key);
        int port = FreePort();
        WwProcess ww = WwProcess.WithPipes("run", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--identity", key, "@std", layer);
        await ww.WaitForAsync("{\"event\":\"ready\"", stderr: true);
        return (ww, k.PeerId, port);
    }

    private (string Image, string Key, Identity.PeerId Peer) Client(string name)
    {
        string image = Path.Combine(_scratch, name);
        Directory.CreateDirectory(Path.Combine(image, "boot"));
        File.Copy(Path.Combine(guests.SdkTests, "remotegraft.wasm"), Path.Combine(image, "boot", "main.wasm"));
        string key = Path.Combine(_scratch, name + ".key");
        using Identity.NodeKey k = Identity.NodeKey.Generate();
        k.Save(key);
        return (image, key, k.PeerId);
    }

    private static async Task<string> RemoteGraftAsync((string Image, string Key, Identity.PeerId Peer) client, Identity.PeerId daemon, int port)
    {
        await using WwProcess ww = WwProcess.WithPipes("run", "--port", "0", "--identity", client.Key, client.Image);
        var addr = P2p.Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}");
        await ww.SendAsync($"{Convert.ToHexStringLower(daemon.Bytes.Span)} {Convert.ToHexStringLower(addr.Bytes.Span)}\n");
        ww.CloseInput();
        Assert.True(await ww.ExitAsync() == 0, ww.Output + ww.Error);
        return ww.Output;
    }

    [Fact]
    public async Task ARemoteNodeGraftsOntoTheDaemonsExportOnlyWithAnAuthorizedKey()
    {
        var allowed = Client("allowed");
        var stranger = Client("stranger");
        string layer = Path.Combine(_scratch, "daemon");
        Directory.CreateDirectory(Path.Combine(layer, "etc"));
        File.WriteAllText(Path.Combine(layer, "etc", "authorized_keys"), $"# who may graft\n{allowed.Peer}\n");
        var (daemon, peer, port) = await StartDaemonAsync(_scratch, "d", layer);
        await using (daemon)
        {
            string granted = await RemoteGraftAsync(allowed, peer, port);
            Assert.Contains("unsigned: graft auth failed: missing signer\n", granted);
            // The session it gets is the daemon node's: host.id names it.
            Assert.Contains($"signed: grafted, remote host.id {Convert.ToHexStringLower(peer.Bytes.Span)}, echo over the network\n", granted);

            string refused = await RemoteGraftAsync(stranger, peer, port);
            Assert.Contains("signed: graft auth failed: key not authorized\n", refused);
            daemon.CloseInput();
            Assert.Equal(0, await daemon.ExitAsync());
        }
    }

    [Fact]
    public async Task ADaemonDialsThePeersOfItsBootstrapFile()
    {
        string empty = Path.Combine(_scratch, "first");
        Directory.CreateDirectory(empty);
        var (first, peer, port) = await StartDaemonAsync(_scratch, "first", empty);
        await using (first)
        {
            string layer = Path.Combine(_scratch, "second");
            Directory.CreateDirectory(Path.Combine(layer, "etc"));
            string addr = $"/ip4/127.0.0.1/tcp/{port}/p2p/{peer}";
            File.WriteAllText(Path.Combine(layer, "etc", "bootstrap"), addr + "\n");
            var (second, _, _) = await StartDaemonAsync(_scratch, "second", layer);
            await using (second)
            {
                string seen = await second.WaitUntilAsync(t => Has(t, e => Is(e, "bootstrap-connected") && e.GetProperty("addr").GetString() == addr), "the bootstrap peer connected", stderr: true);
                Assert.DoesNotContain("bootstrap-failed", seen);
                second.CloseInput();
                Assert.Equal(0, await second.ExitAsync());
            }
            first.CloseInput();
            Assert.Equal(0, await first.ExitAsync());
        }
    }
}
