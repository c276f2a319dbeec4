using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using Wetware.Stem;
using Wetware.Stem.Bench;

// Issue 10's figures (bench/stem.sh). catch-up: the epoch indexer catching up on N historical HeadUpdated events
// (default 10,000) against a real anvil. The updates are mined while they are not final yet (the indexer's depth
// covers them); one anvil_mine then makes all of them final at once, and the clock runs until the newest is
// adopted. latency: see EpochLatency.cs.
string root = args.Length > 1 ? args[0] : throw new ArgumentException("usage: Wetware.Stem.Bench <repo root> catch-up|latency [--events N] [--updates N] [--depth N] [--ipfs-url URL --probe WASM]");
if (args[1] == "latency")
{
    return await EpochLatency.RunAsync(root, args[2..]);
}
int events = Option(args, "--events", 10_000);
using AnvilProcess anvilNode = await AnvilProcess.StartAsync(root, "--gas-limit", "300000000");
{
    var http = anvilNode.HttpUrl;
    int port = anvilNode.Port;
    HttpClient client = anvilNode.Http;
    Task<JsonNode?> Rpc(string method, params JsonNode?[] ps) => anvilNode.RpcAsync(method, ps);
    Task<ulong> Tip() => anvilNode.TipAsync();
    const string OwnerKey = AnvilProcess.OwnerKey;

    var web3 = new Web3(new Account(OwnerKey, 31337), http.ToString());
    string bytecode = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "contracts", "Atom.bin")).Trim();
    TransactionReceipt deployed = await web3.Eth.GetContractDeploymentHandler<AtomDeployment>()
        .SendRequestAndWaitForReceiptAsync(new AtomDeployment(bytecode) { InitialCid = Cid(0) });
    string atom = deployed.ContractAddress;
    string from = web3.TransactionManager.Account.Address;

    // N updates, sent as JSON-RPC batches from anvil's unlocked dev account with automine off, then mined.
    var setup = Stopwatch.StartNew();
    await Rpc("evm_setAutomine", false);
    // Explicit nonces: anvil answers a batch's requests concurrently.
    ulong nonce0 = Convert.ToUInt64(((string)(await Rpc("eth_getTransactionCount", from, "pending"))!)[2..], 16);
    for (int lo = 1; lo <= events; lo += 500)
    {
        var batch = new JsonArray();
        for (int n = lo; n < lo + 500 && n <= events; n++)
        {
            var tx = new JsonObject { ["from"] = from, ["to"] = atom, ["input"] = new AtomSetHeadFunction { NewCid = Cid(n) }.GetCallData().ToHex(true), ["gas"] = "0x30d40", ["nonce"] = "0x" + (nonce0 + (ulong)n - 1).ToString("x", CultureInfo.InvariantCulture) };
            batch.Add(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = n, ["method"] = "eth_sendTransaction", ["params"] = new JsonArray(tx) });
        }
        using HttpResponseMessage r = await client.PostAsync(http, new StringContent(batch.ToJsonString(), Encoding.UTF8, "application/json"));
        string text = await r.Content.ReadAsStringAsync();
        JsonNode? failed = JsonNode.Parse(text)!.AsArray().FirstOrDefault(a => a!["error"] is not null);
        if (failed is not null)
        {
            throw new InvalidOperationException($"eth_sendTransaction: {failed.ToJsonString()}");
        }
    }
    ulong firstUpdateBlock = await Tip() + 1;
    while (Convert.ToUInt64(((string)(await Rpc("txpool_status"))!["pending"]!)[2..], 16) > 0)
    {
        await Rpc("anvil_mine", "0x1");
    }
    ulong lastUpdateBlock = await Tip();
    AtomHeadOutput head = await web3.Eth.GetContractQueryHandler<AtomHeadFunction>().QueryDeserializingToObjectAsync<AtomHeadOutput>(new AtomHeadFunction(), atom);
    if (head.Seq != (ulong)events)
    {
        throw new InvalidOperationException($"the contract is at seq {head.Seq}, not {events}");
    }
    var raw = Stopwatch.StartNew();
    string logsJson = await (await client.PostAsync(http, new StringContent(
        new JsonObject { ["jsonrpc"] = "2.0", ["id"] = 1, ["method"] = "eth_getLogs", ["params"] = new JsonArray(new JsonObject { ["address"] = atom, ["fromBlock"] = "0x0", ["toBlock"] = "latest" }) }.ToJsonString(),
        Encoding.UTF8,
        "application/json"))).Content.ReadAsStringAsync();
    Console.WriteLine($"eth_getLogs alone (raw HTTP, {logsJson.Length / 1024} KiB): {raw.ElapsedMilliseconds} ms");
    Console.WriteLine($"setup: {events} updates in blocks {firstUpdateBlock}..{lastUpdateBlock}, {setup.Elapsed.TotalSeconds:0.0} s");

    // The indexer starts with every update still below its depth, at seq 0.
    int depth = (int)(lastUpdateBlock - firstUpdateBlock + 1);
    await using var indexer = new EpochIndexer(new StemOptions
    {
        RpcUrl = http,
        WebSocketUrl = new Uri($"ws://127.0.0.1:{port}"),
        Contract = atom,
        ConfirmationDepth = depth,
        PollInterval = Timeout.InfiniteTimeSpan,
        RequestTimeout = TimeSpan.FromSeconds(60),
    });
    StemEpoch start = await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
    if (start.Seq != 0)
    {
        throw new InvalidOperationException($"the indexer started at seq {start.Seq}, not 0");
    }
    await Task.Delay(500); // let it subscribe

    var clock = Stopwatch.StartNew();
    await Rpc("anvil_mine", "0x" + depth.ToString("x", CultureInfo.InvariantCulture));
    var adopted = new List<StemEpoch>();
    while (adopted.Count == 0 || adopted[^1].Seq < (ulong)events)
    {
        adopted.Add(await indexer.Adopted.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(120)));
    }
    TimeSpan took = clock.Elapsed;
    Console.WriteLine($"catch-up: {events} HeadUpdated events final at once -> epoch {adopted[^1].Seq} adopted in {took.TotalMilliseconds:0} ms = {events / took.TotalSeconds:0} events/s");
    Console.WriteLine($"epochs adopted on the way: {adopted.Count} ({string.Join(", ", adopted.Select(e => e.Seq))}); logs read: {indexer.UpdatesRead}");
}
return 0;

static int Option(string[] args, string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

static byte[] Cid(int n) => [0x01, 0x55, 0x12, 0x20, .. System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(n))];
