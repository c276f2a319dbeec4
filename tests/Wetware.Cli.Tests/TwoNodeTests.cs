using System.Diagnostics;
using System.Text.RegularExpressions;
using Wetware.Identity;
using Wetware.P2p;

namespace Wetware.Cli.Tests;

/// <summary>The SDK's example guests (guest/sdk/examples), built once per run with guest/sdk/build.sh.</summary>
public sealed class SdkExamples
{
    public SdkExamples()
    {
        Root = Repository.Root;
        string output = Path.Combine(AppContext.BaseDirectory, "sdk-build");
        var psi = new ProcessStartInfo("bash", [Path.Combine(Root, "guest/sdk/build.sh"), output]) { RedirectStandardOutput = true, RedirectStandardError = true };
        string plugin = Path.Combine(Root, "src/Wetware.Capnp.Generator.C/bin/Release/net10.0/capnpc-c");
        if (File.Exists(plugin))
        {
            psi.Environment["CAPNPC_C"] = plugin;
        }
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"guest/sdk/build.sh failed (needs clang-14, wasi-libc and capnp: scripts/install-deps.sh): {err.Result}");
        }
        Examples = Path.Combine(output, "examples");
        Ww = Path.Combine(Root, "src/ww/bin/Release/net10.0/ww");
    }

    public string Root { get; }

    public string Examples { get; }

    /// <summary>The built ww (Release).</summary>
    public string Ww { get; }
}

/// <summary>Two <c>ww run</c> processes end to end: one pid0 exports an object, the other dials it (shared/spec/network.md).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class TwoNodeTests(SdkExamples sdk) : IClassFixture<SdkExamples>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-two-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    private (string Image, string Key, PeerId Peer) Node(string name, string guest)
    {
        string image = Path.Combine(_scratch, name);
        Directory.CreateDirectory(Path.Combine(image, "boot"));
        File.Copy(Path.Combine(sdk.Examples, guest + ".wasm"), Path.Combine(image, "boot", "main.wasm"));
        string key = Path.Combine(_scratch, name + ".key");
        using NodeKey k = NodeKey.Generate();
        k.Save(key);
        return (image, key, k.PeerId);
    }

    private Process Start(string image, string key)
    {
        Assert.True(File.Exists(sdk.Ww), $"{sdk.Ww} is missing: build Wetware.slnx in Release first");
        var psi = new ProcessStartInfo(sdk.Ww, ["run", "--port", "0", "--identity", key, image])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["XDG_CACHE_HOME"] = Path.Combine(_scratch, "cache");
        psi.Environment.Remove("WW_IDENTITY");
        psi.Environment.Remove("WW_LOG");
        return Process.Start(psi)!;
    }

    [Fact]
    public async Task APid0DialsAnotherNodesPid0AndCallsItsExport()
    {
        var a = Node("a", "hello");
        var b = Node("b", "dial");
        using Process server = Start(a.Image, a.Key);
        try
        {
            // hello exports an Executor whose echo answers in capitals; wait for its node to listen.
            int port = -1;
            var logged = new List<string>();
            using var deadline = new CancellationTokenSource(Timeout);
            while (port < 0)
            {
                string? line = await server.StandardError.ReadLineAsync(deadline.Token);
                Assert.True(line is not null, "ww run (a) ended early: " + string.Join("\n", logged));
                logged.Add(line);
                Match m = ListenLine().Match(line);
                if (m.Success)
                {
                    Assert.Equal(a.Peer.ToString(), m.Groups[2].Value);
                    port = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                }
            }
            _ = server.StandardError.ReadToEndAsync(); // keep draining

            using Process client = Start(b.Image, b.Key);
            Multiaddr addr = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}");
            await client.StandardInput.WriteLineAsync($"{Convert.ToHexStringLower(a.Peer.Bytes.Span)} {Convert.ToHexStringLower(addr.Bytes.Span)} hello over there");
            client.StandardInput.Close();
            Task<string> output = client.StandardOutput.ReadToEndAsync();
            Task<string> errors = client.StandardError.ReadToEndAsync();
            await client.WaitForExitAsync(deadline.Token);
            string stdout = await output, stderr = await errors;
            Assert.True(client.ExitCode == 0, $"exit {client.ExitCode}\n{stdout}\n{stderr}");
            Assert.Contains("pipelined: HELLO OVER THERE", stdout);
            Assert.Contains("direct: HELLO OVER THERE", stdout);
            Assert.DoesNotContain("secret", stderr, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    [GeneratedRegex(@"listening on /ip4/0\.0\.0\.0/tcp/(\d+)/p2p/(\S+)")]
    private static partial Regex ListenLine();
}
