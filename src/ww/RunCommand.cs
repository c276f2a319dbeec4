using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Logging;
using Wetware.Host;
using Wetware.Stem;

namespace Wetware.Cli;

/// <summary><c>ww run [OPTIONS] [LAYER...]</c> (shared/spec/cli.md).</summary>
internal static class RunCommand
{
    public static Command Build(WwIo io, TextWriter stderr, CancellationToken stop)
    {
        var layers = new Argument<string[]>("LAYER")
        {
            Description = "Image layers, lowest first: a local directory, /ipfs/<cid>[/sub/path], SOURCE:/TARGET (a targeted mount), or @std (the bundled standard image). " +
                          "With no layer and no --stem, the bundled standard image is used.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var port = IntOption("--port", "TCP listen port, IPv4 and IPv6; 0 picks a free port", 2025, 0, 65535);
        var identity = new Option<string?>("--identity") { Description = "Node key file (default: $WW_IDENTITY, then /etc/identity in a local layer, then a new ephemeral key)" };
        var stem = CommonOptions.Stem("Atom contract address (0x + 40 hex digits); enables epochs, its head becomes the base layer");
        var rpcUrl = CommonOptions.Url("--rpc-url", "EVM JSON-RPC endpoint over HTTP", CommonOptions.DefaultRpcUrl, "http", "https");
        var wsUrl = CommonOptions.Url("--ws-url", "EVM JSON-RPC endpoint over WebSocket (subscriptions)", "ws://127.0.0.1:8545", "ws", "wss");
        var depth = IntOption("--confirmation-depth", "Blocks before a head update is final", 6, 0, 10_000);
        var ipfsUrl = CommonOptions.Url("--ipfs-url", "IPFS node HTTP RPC API (env: WW_IPFS_URL)",
            io.GetEnvironmentVariable("WW_IPFS_URL") is { Length: > 0 } env ? env : "http://127.0.0.1:5001", "http", "https");
        var memoryLimit = IntOption("--memory-limit", "Per-guest linear memory cap, in MiB (wasm32 addresses at most 4096)", 512, 1, 4096);
        var wasmDebug = new Option<bool>("--wasm-debug") { Description = "Keep DWARF and show guest backtraces with source lines" };

        var cmd = new Command("run",
            "Merge the layers into one image, start the libp2p node (it offers pid0's export on /ww/0.1.0), load boot/main.wasm and run it as pid0. " +
            "The exit code is pid0's. Ctrl-C or SIGTERM closes pid0's stdin, waits 5 s, then kills it. " +
            "With --stem, the Atom contract's head (at the confirmation depth) is the base layer, and each later final head starts a new epoch: " +
            "the old capabilities go stale and pid0 is restarted on the new image the same way (stdin closed, 5 s, kill), the host's stdin flowing on to the new pid0.")
        {
            layers, port, identity, stem, rpcUrl, wsUrl, depth, ipfsUrl, memoryLimit, wasmDebug,
        };
        cmd.SetAction(async (parse, _) =>
        {
            ILoggerFactory logs;
            try
            {
                logs = WwLogging.Create(io.GetEnvironmentVariable("WW_LOG"), stderr);
            }
            catch (FormatException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                stderr.WriteLine("see 'ww run --help'");
                return WwCli.UsageError;
            }
            using (logs)
            {
                ILogger log = logs.CreateLogger("ww.run");
                string? contract = parse.GetValue(stem);
                if (contract is null)
                {
                    foreach (Option stemOnly in new Option[] { rpcUrl, wsUrl, depth })
                    {
                        if (parse.GetResult(stemOnly) is { Implicit: false })
                        {
                            log.LogWarning("{Option} has no effect without --stem", stemOnly.Name);
                        }
                    }
                }
                TimeSpan stemStart = io.StemStartTimeout ?? TimeSpan.FromSeconds(30);
                await using StemFeed? feed = contract is null ? null : new StemFeed(new EpochIndexer(new StemOptions
                {
                    RpcUrl = new Uri(parse.GetValue(rpcUrl)!),
                    WebSocketUrl = new Uri(parse.GetValue(wsUrl)!),
                    Contract = contract,
                    ConfirmationDepth = parse.GetValue(depth),
                    StartTimeout = stemStart,
                }, logs.CreateLogger("ww.stem")));
                var options = new HostOptions
                {
                    Layers = parse.GetValue(layers) ?? [],
                    IdentityPath = parse.GetValue(identity) ?? (io.GetEnvironmentVariable("WW_IDENTITY") is { Length: > 0 } env ? env : null),
                    StdImage = io.StdImage,
                    CacheDirectory = io.CacheDirectory,
                    IpfsTimeout = io.IpfsTimeout,
                    ListenPort = parse.GetValue(port),
                    IpfsUrl = new Uri(parse.GetValue(ipfsUrl)!),
                    MemoryLimitMiB = parse.GetValue(memoryLimit),
                    WasmDebug = parse.GetValue(wasmDebug),
                    Stdin = io.Stdin,
                    Stdout = io.Stdout,
                    Stderr = io.Stderr,
                    Terminal = io.StdinIsTerminal,
                    Stem = feed,
                    StemStartTimeout = stemStart,
                };
                try
                {
                    return await Pid0.RunAsync(options, logs.CreateLogger("ww.pid0"), stop);
                }
                catch (HostException e) when (stop.IsCancellationRequested)
                {
                    stderr.WriteLine($"error: {e.Message}");
                    return WwCli.Interrupted;
                }
                catch (HostException e)
                {
                    stderr.WriteLine($"error: {e.Message}");
                    return WwCli.HostFailure;
                }
            }
        });
        return cmd;
    }

    /// <summary>An integer option parsed and range-checked in one place, so a bad value gives one clear error.</summary>
    private static Option<int> IntOption(string name, string description, int defaultValue, int min, int max)
    {
        return new Option<int>(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r =>
            {
                string text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
                if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v))
                {
                    r.AddError($"{name} must be a whole number, got '{text}'");
                    return defaultValue;
                }
                if (v < min || v > max)
                {
                    r.AddError($"{name} must be between {min} and {max}, got {v}");
                }
                return v;
            },
        };
    }
}
