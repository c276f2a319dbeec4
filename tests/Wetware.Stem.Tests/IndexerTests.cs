using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;

namespace Wetware.Stem.Tests;

/// <summary>The epoch indexer against a real anvil: depths, start, reorgs, a dropped and refused WebSocket, catching up.</summary>
public sealed class IndexerTests : IAsyncLifetime
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(800);
    private readonly ListLogger _log = new();
    private readonly List<IAsyncDisposable> _disposables = [];
    private Anvil _anvil = null!;
    private Web3 _owner = null!;
    private string _atom = "";

    public async Task InitializeAsync()
    {
        _anvil = await Anvil.StartAsync();
        _owner = _anvil.Web3For(Anvil.OwnerKey);
        (_atom, _) = await AtomContract.DeployAsync(_owner, AtomContract.Cid(0));
    }

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable d in Enumerable.Reverse(_disposables))
        {
            await d.DisposeAsync();
        }
        await _anvil.DisposeAsync();
    }

    [Fact]
    public async Task DepthZeroAdoptsEachUpdateInItsOwnBlock()
    {
        EpochIndexer indexer = NewIndexer(depth: 0);
        StemEpoch start = await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(0UL, start.Seq);
        Assert.Equal(AtomContract.Cid(0), start.Head.ToArray());

        for (int n = 1; n <= 3; n++)
        {
            ulong block = await SetHeadAsync(n);
            StemEpoch epoch = await NextAsync(indexer);
            Assert.Equal((ulong)n, epoch.Seq);
            Assert.Equal(AtomContract.Cid(n), epoch.Head.ToArray());
            Assert.Equal(block, epoch.AdoptedBlock);
            Assert.Equal(epoch, indexer.Current);
        }
        await AssertNoneAsync(indexer);
    }

    [Fact]
    public async Task DepthOneAdoptsAfterOneMoreBlock()
    {
        await _anvil.MineAsync(1);
        EpochIndexer indexer = NewIndexer(depth: 1);
        await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));

        ulong block = await SetHeadAsync(1);
        await AssertNoneAsync(indexer);
        await _anvil.MineAsync(1);
        StemEpoch epoch = await NextAsync(indexer);
        Assert.Equal(1UL, epoch.Seq);
        Assert.Equal(block + 1, epoch.AdoptedBlock);
    }

    [Fact]
    public async Task DepthSixAdoptsOnlyWhenTheBlockIsSixDeep()
    {
        await _anvil.MineAsync(6); // the contract's code is final, so the start does not wait
        EpochIndexer indexer = NewIndexer(depth: 6);
        await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));

        ulong block = await SetHeadAsync(1);
        await _anvil.MineAsync(5);
        await AssertNoneAsync(indexer);
        Assert.Equal(0UL, indexer.Current.Seq);
        await _anvil.MineAsync(1);
        StemEpoch epoch = await NextAsync(indexer);
        Assert.Equal(1UL, epoch.Seq);
        Assert.Equal(AtomContract.Cid(1), epoch.Head.ToArray());
        Assert.Equal(block + 6, epoch.AdoptedBlock);
    }

    [Fact]
    public async Task StartReadsTheHeadAtTipMinusDepthAndWaitsOnceForTheContractsCode()
    {
        ulong updateBlock = await SetHeadAsync(1); // deploy in block 1, update in block 2
        Assert.Equal(2UL, updateBlock);
        EpochIndexer indexer = NewIndexer(depth: 3);
        Task<StemEpoch> start = indexer.StartAsync();

        await Task.Delay(TimeSpan.FromSeconds(1.2)); // the start checks twice a second
        Assert.False(start.IsCompleted);
        Assert.Single(_log.Entries, e => e.Message.Contains("no contract code", StringComparison.Ordinal));

        await _anvil.MineAsync(2); // tip 4: block 1 (the deployment) is final, block 2 (the update) is not
        StemEpoch epoch = await start.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(0UL, epoch.Seq);
        Assert.Equal(AtomContract.Cid(0), epoch.Head.ToArray());
        Assert.Equal(1UL, epoch.AdoptedBlock);
        Assert.Single(_log.Entries, e => e.Message.Contains("no contract code", StringComparison.Ordinal));

        await _anvil.MineAsync(1);
        StemEpoch next = await NextAsync(indexer);
        Assert.Equal(1UL, next.Seq);
        Assert.Equal(updateBlock + 3, next.AdoptedBlock);
    }

    [Fact]
    public async Task StartFailsNamingTheUrlWhenTheNodeCannotBeReached()
    {
        var url = new Uri("http://127.0.0.1:1");
        await using var indexer = new EpochIndexer(
            new StemOptions
            {
                RpcUrl = url,
                WebSocketUrl = new Uri("ws://127.0.0.1:1"),
                Contract = _atom,
                StartTimeout = TimeSpan.FromSeconds(1.5),
                MinBackoff = TimeSpan.FromMilliseconds(50),
                MaxBackoff = TimeSpan.FromMilliseconds(200),
            },
            _log);
        var started = System.Diagnostics.Stopwatch.StartNew();
        StemUnavailableException e = await Assert.ThrowsAsync<StemUnavailableException>(() => indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Contains("http://127.0.0.1:1", e.Message, StringComparison.Ordinal);
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(10));
        Assert.Single(_log.Entries, l => l.Level == LogLevel.Warning && l.Message.Contains("does not answer", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUpdateReorgedOutBeforeFinalityIsNeverAdopted()
    {
        await _anvil.MineAsync(3);
        EpochIndexer indexer = NewIndexer(depth: 3);
        await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));

        ulong block = await SetHeadAsync(1);
        await _anvil.RpcAsync("anvil_reorg", 1, new JsonArray()); // block `block` replaced by an empty one
        ForgetNonce();
        Assert.Equal(block, await _anvil.BlockNumberAsync());
        Assert.Equal(0UL, (await AtomContract.HeadAsync(_owner, _atom)).Seq);
        await _anvil.MineAsync(5);
        await AssertNoneAsync(indexer);
        Assert.Equal(0UL, indexer.Current.Seq);

        // On the new chain the next update is seq 1 again, with another head: that one is adopted.
        ulong again = await SetHeadAsync(2);
        await _anvil.MineAsync(3);
        StemEpoch epoch = await NextAsync(indexer);
        Assert.Equal(1UL, epoch.Seq);
        Assert.Equal(AtomContract.Cid(2), epoch.Head.ToArray());
        Assert.Equal(again + 3, epoch.AdoptedBlock);
    }

    [Fact]
    public async Task AnUpdateReorgedOutAndReincludedIsAdoptedOnce()
    {
        await _anvil.MineAsync(3);
        EpochIndexer indexer = NewIndexer(depth: 3);
        await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));

        ulong block = await SetHeadAsync(1);
        await _anvil.MineAsync(1);
        string firstHash = await BlockHashAsync(block);
        // Replace the last two blocks; the update comes back in the second of the new ones (block + 1).
        await _anvil.RpcAsync("anvil_reorg", 2, new JsonArray(new JsonArray(SetHeadRequest(AtomContract.Cid(1)), 1)));
        Assert.NotEqual(firstHash, await BlockHashAsync(block));
        Assert.Equal(1UL, (await AtomContract.HeadAsync(_owner, _atom)).Seq);

        await _anvil.MineAsync(3);
        StemEpoch epoch = await NextAsync(indexer);
        Assert.Equal(1UL, epoch.Seq);
        Assert.Equal(AtomContract.Cid(1), epoch.Head.ToArray());
        Assert.Equal(block + 1 + 3, epoch.AdoptedBlock);
        await _anvil.MineAsync(5);
        await AssertNoneAsync(indexer);
    }

    [Fact]
    public async Task AReorgDeeperThanTheDepthNeverAdoptsAnUpdateTwice()
    {
        // Documented behaviour: an adopted epoch stays; the re-included update (same seq) is not adopted again.
        EpochIndexer indexer = NewIndexer(depth: 0);
        await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));
        await _anvil.MineAsync(2);

        ulong block = await SetHeadAsync(1);
        StemEpoch first = await NextAsync(indexer);
        Assert.Equal(block, first.AdoptedBlock);
        await _anvil.MineAsync(1);
        // Replace the update's block and the next; the update comes back one block later.
        await _anvil.RpcAsync("anvil_reorg", 2, new JsonArray(new JsonArray(SetHeadRequest(AtomContract.Cid(1)), 1)));
        ForgetNonce();
        await _anvil.MineAsync(2);
        await AssertNoneAsync(indexer);
        await _log.WaitForWarningAsync("reorg deeper than the confirmation depth");

        await SetHeadAsync(2);
        StemEpoch second = await NextAsync(indexer);
        Assert.Equal(2UL, second.Seq);
        Assert.Equal(AtomContract.Cid(2), second.Head.ToArray());
    }

    [Fact]
    public async Task AWebSocketDroppedAndRefusedDuringTwentyUpdatesMissesNoneAndAdoptsNoneTwice()
    {
        await _anvil.MineAsync(2);
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, _anvil.Port));
        EpochIndexer indexer = NewIndexer(depth: 2, webSocket: new Uri($"ws://127.0.0.1:{proxy.Port}"));
        await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));
        await WaitForLogAsync("following", 1);
        var adopted = new List<StemEpoch>();
        Task collect = Task.Run(async () =>
        {
            await foreach (StemEpoch e in indexer.ReadEpochsAsync())
            {
                lock (adopted)
                {
                    adopted.Add(e);
                }
            }
        });

        for (int n = 1; n <= 20; n++)
        {
            await SetHeadAsync(n);
            switch (n)
            {
                case 4:
                    proxy.DropAll();
                    await WaitForLogAsync("restored", 1);
                    break;
                case 8:
                    await proxy.RefuseAsync();
                    await WaitForLogAsync("lost", 2);
                    break;
                case 13:
                    proxy.AcceptAgain();
                    await WaitForLogAsync("restored", 2);
                    break;
                case 16:
                    proxy.DropAll();
                    break;
            }
        }
        await _anvil.MineAsync(2);
        await WaitUntilAsync(() => indexer.Current.Seq == 20, TimeSpan.FromSeconds(30), () => $"at epoch {indexer.Current.Seq}; log: {string.Join(" | ", _log.Entries.Select(e => e.Message))}");
        await AssertNoneAsync(indexer);

        StemEpoch[] seen;
        lock (adopted)
        {
            seen = [.. adopted];
        }
        Assert.NotEmpty(seen);
        Assert.Equal(20UL, seen[^1].Seq);
        Assert.Equal(AtomContract.Cid(20), seen[^1].Head.ToArray());
        for (int i = 0; i < seen.Length; i++)
        {
            Assert.Equal(AtomContract.Cid((int)seen[i].Seq), seen[i].Head.ToArray());
            if (i > 0)
            {
                Assert.True(seen[i].Seq > seen[i - 1].Seq, $"epoch {seen[i].Seq} after {seen[i - 1].Seq}");
            }
        }
        Assert.DoesNotContain(_log.Entries, e => e.Message.Contains("missing", StringComparison.Ordinal));
        // Each fault logged once: three episodes (drop, refuse for a while, drop), each one "lost" and one "restored".
        Assert.Equal(3, _log.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.Contains("WebSocket", StringComparison.Ordinal)));
        Assert.Equal(3, _log.Entries.Count(e => e.Message.Contains("restored", StringComparison.Ordinal)));
        Assert.True(proxy.Accepted >= 4, $"the proxy accepted {proxy.Accepted} connections");
        await indexer.DisposeAsync();
        await collect.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task AFailingHttpEndpointIsRetriedWithTheFaultLoggedOnce()
    {
        await _anvil.MineAsync(1);
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, _anvil.Port));
        EpochIndexer indexer = NewIndexer(depth: 1, rpc: new Uri($"http://127.0.0.1:{proxy.Port}"));
        await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));
        await WaitForLogAsync("following", 1);

        await proxy.RefuseAsync();
        await SetHeadAsync(1);
        await _anvil.MineAsync(3); // new heads over the WebSocket: each wakes a read over HTTP, which fails
        await _log.WaitForWarningAsync("fails");
        await AssertNoneAsync(indexer);
        await Task.Delay(TimeSpan.FromSeconds(1)); // several retries (back-off up to 0.5 s)
        Assert.Single(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("fails", StringComparison.Ordinal));
        Assert.Equal(0UL, indexer.Current.Seq);

        proxy.AcceptAgain();
        StemEpoch epoch = await NextAsync(indexer);
        Assert.Equal(1UL, epoch.Seq);
        // The recovery is logged once the sync round that adopted the epoch returns: it may come a moment after.
        await WaitForLogAsync("answers again", 1);
        Assert.Single(_log.Entries, e => e.Message.Contains("answers again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CatchingUpOnManyUpdatesAdoptsOnlyTheNewest()
    {
        await _anvil.MineAsync(2);
        await using var proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, _anvil.Port));
        await proxy.RefuseAsync(); // no WebSocket (and no polling): the indexer hears of nothing until it connects
        EpochIndexer indexer = NewIndexer(depth: 2, webSocket: new Uri($"ws://127.0.0.1:{proxy.Port}"));
        await indexer.StartAsync().WaitAsync(TimeSpan.FromSeconds(15));

        const int Updates = 50;
        for (int n = 1; n <= Updates; n++)
        {
            await SetHeadAsync(n);
        }
        await _anvil.MineAsync(2);
        await AssertNoneAsync(indexer);

        proxy.AcceptAgain();
        StemEpoch epoch = await NextAsync(indexer, TimeSpan.FromSeconds(30));
        Assert.Equal((ulong)Updates, epoch.Seq);
        Assert.Equal(AtomContract.Cid(Updates), epoch.Head.ToArray());
        await AssertNoneAsync(indexer);
        Assert.Equal(Updates, indexer.UpdatesRead);
        Assert.Contains(_log.Entries, e => e.Message.Contains($"{Updates - 1} earlier update(s) superseded", StringComparison.Ordinal));
    }

    private EpochIndexer NewIndexer(int depth, Uri? webSocket = null, Uri? rpc = null)
    {
        var indexer = new EpochIndexer(
            new StemOptions
            {
                RpcUrl = rpc ?? _anvil.HttpUrl,
                WebSocketUrl = webSocket ?? _anvil.WebSocketUrl,
                Contract = _atom,
                ConfirmationDepth = depth,
                // No polling: every adoption here follows from the WebSocket (a new head or a reconnect).
                PollInterval = Timeout.InfiniteTimeSpan,
                MinBackoff = TimeSpan.FromMilliseconds(50),
                MaxBackoff = TimeSpan.FromMilliseconds(500),
            },
            _log);
        _disposables.Add(indexer);
        return indexer;
    }

    /// <summary>After a reorg: Nethereum's account counts nonces itself, and the chain's count went back.</summary>
    private void ForgetNonce() => _owner = _anvil.Web3For(Anvil.OwnerKey);

    private async Task<ulong> SetHeadAsync(int n) =>
        (ulong)(await AtomContract.SetHeadAsync(_owner, _atom, AtomContract.Cid(n))).BlockNumber.Value;

    private JsonObject SetHeadRequest(byte[] cid) => new()
    {
        ["from"] = _owner.TransactionManager.Account.Address,
        ["to"] = _atom,
        ["input"] = new AtomSetHeadFunction { NewCid = cid }.GetCallData().ToHex(true),
        ["gas"] = "0x493e0",
    };

    private async Task<string> BlockHashAsync(ulong number) =>
        (await _owner.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(new BlockParameter(number))).BlockHash;

    private static async Task<StemEpoch> NextAsync(EpochIndexer indexer, TimeSpan? timeout = null)
    {
        try
        {
            return await indexer.Adopted.ReadAsync().AsTask().WaitAsync(timeout ?? TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no epoch adopted; current is {indexer.Current}");
        }
    }

    private static async Task AssertNoneAsync(EpochIndexer indexer)
    {
        await Task.Delay(Quiet);
        Assert.False(indexer.Adopted.TryRead(out StemEpoch? e), $"adopted {e}");
    }

    private Task WaitForLogAsync(string text, int count) =>
        WaitUntilAsync(
            () => _log.Entries.Count(e => e.Message.Contains(text, StringComparison.Ordinal)) >= count,
            TimeSpan.FromSeconds(15),
            () => $"no {count} lines with '{text}'; log: {string.Join(" | ", _log.Entries.Select(e => e.Message))}");

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> what)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(what());
            }
            await Task.Delay(20);
        }
    }
}
