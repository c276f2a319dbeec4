using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using Wetware.Cli;
using Wetware.Ipfs;

namespace Wetware.Stem.Bench;

/// <summary>
/// Issue 10's latency figure: <c>ww run --stem</c> (in this process, as the command line runs it) on a real anvil
/// and a js-ipfs node; for each of N setHead updates, alternating between two images, the time from the
/// <c>anvil_mine</c> that makes the update final to the new pid0's first line, which it prints once its graft
/// and a <c>Membrane.epoch</c> call are answered (tests/guests/sdk/stemprobe.c). Two warm-up updates are not
/// counted.
/// </summary>
internal static class EpochLatency
{
    public static async Task<int> RunAsync(string root, string[] args)
    {
        int updates = Option(args, "--updates", 20);
        int depth = Option(args, "--depth", 2);
        var ipfsUrl = new Uri(Text(args, "--ipfs-url"));
        string probe = Text(args, "--probe");
        string scratch = Directory.CreateTempSubdirectory("ww-stem-bench-").FullName;
        try
        {
            using var ipfs = new IpfsClient(new IpfsClientOptions { ApiUrl = ipfsUrl });
            Cid[] images = [await ImageAsync(ipfs, scratch, probe, "A"), await ImageAsync(ipfs, scratch, probe, "B")];
            using AnvilProcess anvil = await AnvilProcess.StartAsync(root);
            var web3 = new Web3(new Account(AnvilProcess.OwnerKey, 31337), anvil.HttpUrl.ToString()) { TransactionManager = { UseLegacyAsDefault = false } };
            string bytecode = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "contracts", "Atom.bin")).Trim();
            TransactionReceipt deployed = await web3.Eth.GetContractDeploymentHandler<AtomDeployment>()
                .SendRequestAndWaitForReceiptAsync(new AtomDeployment(bytecode) { InitialCid = images[0].Bytes.ToArray() });
            string atom = deployed.ContractAddress;
            await anvil.MineAsync(depth);

            var stdin = new Pipe();
            var stdout = new Pipe();
            var stderr = new MemoryStream();
            var io = new WwIo(stdin.Reader.AsStream(), stdout.Writer.AsStream(), stderr)
            {
                StdImage = null,
                CacheDirectory = Path.Combine(scratch, "cache"),
                GetEnvironmentVariable = _ => null,
            };
            Task<int> run = WwCli.RunAsync(
                ["run", "--port", "0", "--stem", atom, "--rpc-url", anvil.HttpUrl.ToString(), "--ws-url", anvil.WebSocketUrl.ToString(),
                 "--confirmation-depth", depth.ToString(CultureInfo.InvariantCulture), "--ipfs-url", ipfsUrl.ToString()],
                io);
            var lines = new LineWatcher(stdout.Reader, run, stderr);
            await lines.UntilAsync("A: up in epoch 0");

            var samples = new List<double>();
            for (int i = 1; i <= updates + 2; i++)
            {
                string marker = i % 2 == 1 ? "B" : "A";
                await web3.Eth.GetContractTransactionHandler<AtomSetHeadFunction>()
                    .SendRequestAndWaitForReceiptAsync(atom, new AtomSetHeadFunction { NewCid = images[i % 2].Bytes.ToArray() });
                if (depth > 1)
                {
                    await anvil.MineAsync(depth - 1);
                }
                long t0 = Stopwatch.GetTimestamp();
                if (depth > 0)
                {
                    await anvil.MineAsync(1);
                }
                await lines.UntilAsync($"{marker}: up in epoch {i}");
                double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if (i > 2)
                {
                    samples.Add(ms);
                }
            }
            await stdin.Writer.CompleteAsync();
            int code = await run.WaitAsync(TimeSpan.FromSeconds(30));
            samples.Sort();
            double p50 = samples[samples.Count / 2];
            Console.WriteLine($"epoch latency, final block -> new pid0's graft answered, depth {depth}, {samples.Count} updates: p50 {p50:0} ms (min {samples[0]:0}, max {samples[^1]:0}; issue 10's goal: under 500 ms){(code == 0 ? "" : $"; ww run exited {code}")}");
            return code;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static async Task<Cid> ImageAsync(IpfsClient ipfs, string scratch, string probe, string marker)
    {
        string dir = Path.Combine(scratch, marker);
        Directory.CreateDirectory(Path.Combine(dir, "boot"));
        Directory.CreateDirectory(Path.Combine(dir, "etc"));
        File.Copy(probe, Path.Combine(dir, "boot", "main.wasm"));
        File.WriteAllText(Path.Combine(dir, "etc", "marker"), marker + "\n");
        return await ipfs.AddDirectoryAsync(dir, new IpfsAddOptions { Pin = false });
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string Text(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{name} is required for the latency run");
    }

    /// <summary>pid0's output, line by line as it comes.</summary>
    private sealed class LineWatcher(PipeReader output, Task<int> run, MemoryStream stderr)
    {
        private readonly StreamReader _reader = new(output.AsStream());
        private readonly StringBuilder _seen = new();

        public async Task UntilAsync(string line)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (true)
            {
                Task<string?> next = _reader.ReadLineAsync(timeout.Token).AsTask();
                if (await Task.WhenAny(next, run) == run && !next.IsCompleted)
                {
                    throw new InvalidOperationException($"ww run ended ({await run}) before '{line}':\n{_seen}\n{Encoding.UTF8.GetString(stderr.ToArray())}");
                }
                string text = await next ?? throw new InvalidOperationException($"pid0's output ended before '{line}':\n{_seen}");
                _seen.AppendLine(text);
                if (text == line)
                {
                    return;
                }
            }
        }
    }
}
