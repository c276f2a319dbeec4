using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;

namespace Wetware.Stem;

/// <summary>
/// Follows the Atom contract's head and turns its finalized updates into epochs (shared/spec/stem.md, "The epoch
/// pipeline", steps 1 to 3 and 5). Independent of IPFS and the host: it only reads the chain.
/// </summary>
/// <remarks>
/// <para>Start: <c>head()</c> at <c>tip - depth</c> is the first epoch (waiting, if the contract has no code there yet).</para>
/// <para>Watch: a WebSocket subscription to new heads and to HeadUpdated logs wakes the indexer; what it adopts
/// it reads over HTTP with <c>eth_getLogs</c> from the last block it finalized up to <c>tip - depth</c>, so a
/// (re)connect, a missed notification or a silent socket costs nothing but latency: the range read after every
/// (re)connect is the backfill.</para>
/// <para>Finalize: the range's last block hash is read before and after <c>eth_getLogs</c> (a reorg in between
/// makes the read start over), and the adopted update's block hash is checked again at its height. Updates are
/// taken in seq order, each once; one that is missing holds back every later one until a rescan finds it; of
/// several final at once only the newest becomes the next epoch.</para>
/// <para>A reorg deeper than the depth never rolls back an adopted epoch: the indexer rescans from the newest
/// block it finalized that is still canonical, and takes only seqs above the current epoch.</para>
/// </remarks>
public sealed class EpochIndexer : IAsyncDisposable
{
    private const int MaxCheckpoints = 64;

    private readonly StemOptions _options;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly Web3 _web3;
    private readonly string _contract;
    private readonly Channel<StemEpoch> _adopted = Channel.CreateUnbounded<StemEpoch>(new() { SingleWriter = true });
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stop = new();
    private readonly StateLog _states;
    private readonly ConcurrentDictionary<(ulong Seq, string BlockHash), bool> _seen = new();

    // Owned by the sync loop once started.
    private readonly SortedDictionary<ulong, FinalUpdate> _held = [];
    private readonly List<(ulong Number, string Hash)> _checkpoints = [];
    private StemEpoch? _current;
    private ulong _startBlock;
    private ulong _scanned;
    private string _scannedHash = "";
    private long _updatesRead;
    private Task _watchLoop = Task.CompletedTask;
    private Task _syncLoop = Task.CompletedTask;
    private int _started;

    public EpochIndexer(StemOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _states = new StateLog();
        _contract = options.Contract.ToLowerInvariant();
        _http = new HttpClient { Timeout = options.RequestTimeout };
        var rpc = new RpcClient(options.RpcUrl, _http, null, null, null);
        _web3 = new Web3(rpc);
    }

    /// <summary>The epoch in force: the one read at start, then each adopted one.</summary>
    public StemEpoch Current => Volatile.Read(ref _current) ?? throw new InvalidOperationException("the indexer has not started");

    /// <summary>Epochs adopted after the start, in order (seq strictly increasing); completes at disposal.</summary>
    public ChannelReader<StemEpoch> Adopted => _adopted.Reader;

    /// <summary>HeadUpdated logs read from final ranges so far (a catch-up reads each once).</summary>
    public long UpdatesRead => Interlocked.Read(ref _updatesRead);

    /// <summary>
    /// Reads the first epoch at <c>tip - depth</c> and starts following the chain. Fails with
    /// <see cref="StemUnavailableException"/> naming the URL when the node stays unreachable for
    /// <see cref="StemOptions.StartTimeout"/>; waits (logging once) while the contract has no code yet.
    /// </summary>
    public async Task<StemEpoch> StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("the indexer was started already");
        }
        var backoff = new Backoff(_options.MinBackoff, _options.MaxBackoff);
        var unreachableFor = Stopwatch.StartNew();
        bool waitingLogged = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                ulong tip = await BlockNumberAsync(cancellationToken).ConfigureAwait(false);
                unreachableFor.Restart();
                ulong at = tip >= (ulong)_options.ConfirmationDepth ? tip - (ulong)_options.ConfirmationDepth : 0;
                string hash = await BlockHashAsync(at, cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException($"the node has no block {at} below its tip {tip}");
                string code = await _web3.Eth.GetCode.SendRequestAsync(_contract, new BlockParameter(at)).WaitAsync(cancellationToken).ConfigureAwait(false);
                if (string.IsNullOrEmpty(code) || code == "0x")
                {
                    if (!waitingLogged)
                    {
                        _logger.LogInformation("no contract code at {Contract} in final block {Block} (tip {Tip}, depth {Depth}) on {Url} yet: waiting for it", _contract, at, tip, _options.ConfirmationDepth, _options.RpcUrl);
                        waitingLogged = true;
                    }
                    await Task.Delay(500, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                AtomHeadOutput head = await _web3.Eth.GetContractQueryHandler<AtomHeadFunction>()
                    .QueryDeserializingToObjectAsync<AtomHeadOutput>(new AtomHeadFunction(), _contract, new BlockParameter(at))
                    .WaitAsync(cancellationToken).ConfigureAwait(false);
                if (await BlockHashAsync(at, cancellationToken).ConfigureAwait(false) != hash)
                {
                    continue; // reorged while we read: read again
                }
                _current = new StemEpoch(head.Seq, head.Cid, at);
                _startBlock = at;
                SetScanned(at, hash);
                _logger.LogInformation("epoch {Seq} from {Contract} at final block {Block}: head {Head}", head.Seq, _contract, at, DescribeHead(head.Cid));
                break;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not InvalidOperationException)
            {
                if (unreachableFor.Elapsed >= _options.StartTimeout)
                {
                    throw new StemUnavailableException($"the chain node at {_options.RpcUrl} could not be reached within {_options.StartTimeout.TotalSeconds:0.#} s: {Reason(e)}", e);
                }
                if (_states.Change("start", "unreachable"))
                {
                    _logger.LogWarning("the chain node at {Url} does not answer ({Reason}): retrying for up to {Seconds} s", _options.RpcUrl, Reason(e), _options.StartTimeout.TotalSeconds);
                }
                TimeSpan left = _options.StartTimeout - unreachableFor.Elapsed;
                TimeSpan delay = backoff.Next();
                await Task.Delay(delay < left ? delay : left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            }
        }
        _watchLoop = Task.Run(WatchLoopAsync, CancellationToken.None);
        _syncLoop = Task.Run(SyncLoopAsync, CancellationToken.None);
        return _current;
    }

    /// <summary>Adopted epochs as they come, until disposal or <paramref name="cancellationToken"/>.</summary>
    public IAsyncEnumerable<StemEpoch> ReadEpochsAsync(CancellationToken cancellationToken = default) => _adopted.Reader.ReadAllAsync(cancellationToken);

    private async Task WatchLoopAsync()
    {
        CancellationToken stop = _stop.Token;
        var backoff = new Backoff(_options.MinBackoff, _options.MaxBackoff);
        bool everConnected = false;
        while (!stop.IsCancellationRequested)
        {
            JsonRpcWebSocket? socket = null;
            try
            {
                socket = await JsonRpcWebSocket.ConnectAsync(_options.WebSocketUrl, _options.RequestTimeout, stop).ConfigureAwait(false);
                string heads = await socket.SubscribeAsync(w => w.WriteStringValue("newHeads"), _options.RequestTimeout, stop).ConfigureAwait(false);
                string logs = await socket.SubscribeAsync(
                    w =>
                    {
                        w.WriteStringValue("logs");
                        w.WriteStartObject();
                        w.WriteString("address", _contract);
                        w.WriteStartArray("topics");
                        w.WriteStringValue(AtomAbi.HeadUpdatedTopic);
                        w.WriteEndArray();
                        w.WriteEndObject();
                    },
                    _options.RequestTimeout,
                    stop).ConfigureAwait(false);
                bool changed = _states.Change("ws", "up");
                if (!everConnected)
                {
                    _logger.LogInformation("following {Contract} over {Url} (confirmation depth {Depth})", _contract, _options.WebSocketUrl, _options.ConfirmationDepth);
                }
                else if (changed)
                {
                    _logger.LogInformation("WebSocket to {Url} restored: backfilling from block {Block}", _options.WebSocketUrl, Volatile.Read(ref _scanned) + 1);
                }
                everConnected = true;
                backoff.Reset();
                Wake(); // the backfill: the sync reads every log since the last final block over HTTP
                await foreach (JsonRpcNotification n in socket.Notifications.ReadAllAsync(stop).ConfigureAwait(false))
                {
                    if (n.Subscription == logs)
                    {
                        NoteLog(n.Result);
                    }
                    else if (n.Subscription == heads)
                    {
                        Wake();
                    }
                }
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                if (_states.Change("ws", "down"))
                {
                    _logger.LogWarning("WebSocket to {Url} {What} ({Reason}): reconnecting with back-off", _options.WebSocketUrl, everConnected ? "lost" : "unavailable", Reason(e));
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            finally
            {
                if (socket is not null)
                {
                    await socket.DisposeAsync().ConfigureAwait(false);
                }
            }
            try
            {
                await Task.Delay(backoff.Next(), stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task SyncLoopAsync()
    {
        CancellationToken stop = _stop.Token;
        var backoff = new Backoff(_options.MinBackoff, _options.MaxBackoff);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                bool again;
                try
                {
                    again = await SyncOnceAsync(stop).ConfigureAwait(false);
                    if (_states.Change("rpc", "up"))
                    {
                        _logger.LogInformation("the chain node at {Url} answers again", _options.RpcUrl);
                    }
                    backoff.Reset();
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    if (e is GapException gap)
                    {
                        if (_states.Change("gap", gap.Message))
                        {
                            _logger.LogWarning("{Reason}", gap.Message);
                        }
                    }
                    else if (_states.Change("rpc", "down"))
                    {
                        _logger.LogWarning("the chain node at {Url} fails ({Reason}): retrying with back-off, epoch {Seq} stays", _options.RpcUrl, Reason(e), Current.Seq);
                    }
                    await Task.Delay(backoff.Next(), stop).ConfigureAwait(false);
                    continue;
                }
                if (!again)
                {
                    await WaitForWakeAsync(stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass: finalizes what is final now. Returns true when the chain moved during the pass and it should run again at once.</summary>
    private async Task<bool> SyncOnceAsync(CancellationToken cancellationToken)
    {
        ulong depth = (ulong)_options.ConfirmationDepth;
        ulong tip = await BlockNumberAsync(cancellationToken).ConfigureAwait(false);
        if (tip < depth)
        {
            return false;
        }
        ulong final = tip - depth;

        // A reorg deeper than the depth replaced a block we finalized: rescan from the newest one still canonical.
        if (await BlockHashAsync(_scanned, cancellationToken).ConfigureAwait(false) != _scannedHash)
        {
            await RewindAsync(cancellationToken).ConfigureAwait(false);
        }
        if (final <= _scanned)
        {
            return false;
        }

        string? before = await BlockHashAsync(final, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return true; // the tip went down (a reorg to a shorter chain): start over
        }
        List<FilterLog> logs = await GetLogsAsync(_scanned + 1, final, cancellationToken).ConfigureAwait(false);
        if (await BlockHashAsync(final, cancellationToken).ConfigureAwait(false) != before)
        {
            return true; // a reorg while we read: what we read may mix two chains
        }

        ulong current = Current.Seq;
        // Chain order (block, then log index); the keys are read once, as HexBigInteger parses on each read.
        var updates = new List<(ulong Block, ulong Index, FinalUpdate Update)>(logs.Count);
        foreach (FilterLog log in logs)
        {
            FinalUpdate u = Decode(log);
            updates.Add((u.Block, log.LogIndex.Value.ToUInt64Checked(), u));
        }
        updates.Sort(static (a, b) => a.Block != b.Block ? a.Block.CompareTo(b.Block) : a.Index.CompareTo(b.Index));
        foreach ((_, _, FinalUpdate update) in updates)
        {
            Interlocked.Increment(ref _updatesRead);
            if (update.Seq <= current)
            {
                _logger.LogDebug("HeadUpdated seq {Seq} in block {Block} is at or below epoch {Current}: already applied", update.Seq, update.Block, current);
                continue;
            }
            _held[update.Seq] = update;
        }

        // Take the contiguous run above the current epoch, in seq order; only its newest becomes the next epoch.
        FinalUpdate? newest = null;
        int superseded = 0;
        for (ulong next = current + 1; _held.TryGetValue(next, out FinalUpdate? u); next++)
        {
            if (newest is not null)
            {
                superseded++;
            }
            newest = u;
        }
        if (newest is not null && await BlockHashAsync(newest.Block, cancellationToken).ConfigureAwait(false) != newest.BlockHash)
        {
            _held.Clear();
            return true; // its block left the canonical chain after the range read: read again
        }

        SetScanned(final, before);
        if (newest is not null)
        {
            for (ulong s = current + 1; s <= newest.Seq; s++)
            {
                _held.Remove(s);
            }
            var epoch = new StemEpoch(newest.Seq, newest.Cid, newest.Block + depth);
            Volatile.Write(ref _current, epoch);
            _adopted.Writer.TryWrite(epoch);
            _states.Change("gap", "");
            _logger.LogInformation(
                "epoch {Seq} adopted: head {Head} from block {Block}, final at block {Final}{Superseded}",
                epoch.Seq,
                DescribeHead(newest.Cid),
                newest.Block,
                epoch.AdoptedBlock,
                superseded > 0 ? $" ({superseded} earlier update(s) superseded while catching up)" : "");
        }
        if (_held.Count > 0)
        {
            // A seq is missing below a final one: never skip it. Rescan everything since the start; the back-off paces repeats.
            ulong missing = Current.Seq + 1;
            ulong above = _held.Keys.First();
            _held.Clear();
            string startHash = await BlockHashAsync(_startBlock, cancellationToken).ConfigureAwait(false) ?? "";
            _checkpoints.Clear();
            SetScanned(_startBlock, startHash);
            throw new GapException($"HeadUpdated seq {missing} is missing below final seq {above}: rescanning from block {_startBlock}");
        }
        return false;
    }

    private async Task RewindAsync(CancellationToken cancellationToken)
    {
        ulong from = _scanned;
        for (int i = _checkpoints.Count - 1; i >= 0; i--)
        {
            (ulong number, string hash) = _checkpoints[i];
            if (await BlockHashAsync(number, cancellationToken).ConfigureAwait(false) == hash)
            {
                _checkpoints.RemoveRange(i + 1, _checkpoints.Count - i - 1);
                _scanned = number;
                _scannedHash = hash;
                _logger.LogWarning("a reorg deeper than the confirmation depth ({Depth}) replaced final block {Block}: rescanning from block {From}; adopted epochs stay", _options.ConfirmationDepth, from, number + 1);
                return;
            }
        }
        string startHash = await BlockHashAsync(_startBlock, cancellationToken).ConfigureAwait(false) ?? "";
        _checkpoints.Clear();
        SetScanned(_startBlock, startHash);
        _logger.LogWarning("a reorg deeper than the confirmation depth ({Depth}) replaced final block {Block} and all kept checkpoints: rescanning from block {From}", _options.ConfirmationDepth, from, _startBlock + 1);
    }

    private void SetScanned(ulong number, string hash)
    {
        Volatile.Write(ref _scanned, number);
        _scannedHash = hash;
        if (_checkpoints.Count > 0 && _checkpoints[^1].Number >= number)
        {
            _checkpoints.RemoveAll(c => c.Number >= number);
        }
        _checkpoints.Add((number, hash));
        if (_checkpoints.Count > MaxCheckpoints)
        {
            _checkpoints.RemoveAt(1); // keep the oldest (near the start) and the newest
        }
    }

    private async Task<List<FilterLog>> GetLogsAsync(ulong from, ulong to, CancellationToken cancellationToken)
    {
        var all = new List<FilterLog>();
        for (ulong lo = from; lo <= to;)
        {
            ulong hi = Math.Min(to, lo + (ulong)_options.MaxLogRange - 1);
            var filter = new NewFilterInput
            {
                Address = [_contract],
                Topics = [AtomAbi.HeadUpdatedTopic],
                FromBlock = new BlockParameter(lo),
                ToBlock = new BlockParameter(hi),
            };
            FilterLog[] logs = await _web3.Eth.Filters.GetLogs.SendRequestAsync(filter).WaitAsync(cancellationToken).ConfigureAwait(false);
            all.AddRange(logs);
            if (hi == ulong.MaxValue)
            {
                break;
            }
            lo = hi + 1;
        }
        return all;
    }

    private static FinalUpdate Decode(FilterLog log)
    {
        (ulong seq, byte[] cid) = AtomAbi.DecodeHeadUpdated(log);
        return new FinalUpdate(seq, cid, log.BlockNumber.Value.ToUInt64Checked(), log.BlockHash);
    }

    /// <summary>Logs an update seen over the WebSocket once (it is adopted from the HTTP read when final).</summary>
    private void NoteLog(JsonElement log)
    {
        try
        {
            if (log.TryGetProperty("removed", out JsonElement removed) && removed.ValueKind == JsonValueKind.True)
            {
                return;
            }
            JsonElement topics = log.GetProperty("topics");
            ulong seq = topics[1].GetString()!.HexToBigInteger(false).ToUInt64Checked();
            ulong block = log.GetProperty("blockNumber").GetString()!.HexToBigInteger(false).ToUInt64Checked();
            string hash = log.GetProperty("blockHash").GetString() ?? "";
            StemEpoch? current = Volatile.Read(ref _current);
            if (current is not null && seq > current.Seq && _seen.TryAdd((seq, hash), true))
            {
                _logger.LogInformation("HeadUpdated seq {Seq} in block {Block}: final at block {Final}", seq, block, block + (ulong)_options.ConfirmationDepth);
            }
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException or OverflowException)
        {
            _logger.LogDebug("a HeadUpdated notification could not be read ({Reason}); the HTTP read will find it", e.Message);
        }
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    private async Task WaitForWakeAsync(CancellationToken stop)
    {
        if (_options.PollInterval == Timeout.InfiniteTimeSpan)
        {
            await _wake.Reader.ReadAsync(stop).ConfigureAwait(false);
            return;
        }
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        cts.CancelAfter(_options.PollInterval);
        try
        {
            await _wake.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            // the poll interval passed without a new head: check over HTTP anyway
        }
    }

    private async Task<ulong> BlockNumberAsync(CancellationToken cancellationToken) =>
        (await _web3.Eth.Blocks.GetBlockNumber.SendRequestAsync().WaitAsync(cancellationToken).ConfigureAwait(false)).Value.ToUInt64Checked();

    private async Task<string?> BlockHashAsync(ulong number, CancellationToken cancellationToken)
    {
        BlockWithTransactionHashes? block = await _web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber
            .SendRequestAsync(new BlockParameter(number)).WaitAsync(cancellationToken).ConfigureAwait(false);
        return block?.BlockHash;
    }

    /// <summary>A head for a log line: <c>/ipfs/...</c> text as it is, a binary CID as hex.</summary>
    internal static string DescribeHead(ReadOnlySpan<byte> head) =>
        head.StartsWith("/ipfs/"u8) ? Encoding.UTF8.GetString(head) : "0x" + Convert.ToHexStringLower(head);

    private static string Reason(Exception e)
    {
        Exception inner = e;
        while (inner.InnerException is not null && (inner is RpcClientUnknownException || inner.Message.Length == 0))
        {
            inner = inner.InnerException;
        }
        return inner == e ? e.Message : $"{e.Message}: {inner.Message}";
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        _stop.Cancel();
        try
        {
            await Task.WhenAll(_watchLoop, _syncLoop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _adopted.Writer.TryComplete();
        _http.Dispose();
        _stop.Dispose();
    }

    private sealed record FinalUpdate(ulong Seq, byte[] Cid, ulong Block, string BlockHash);

    private sealed class GapException(string message) : Exception(message);
}

/// <summary>Remembers the last state per key, so each change is logged once.</summary>
internal sealed class StateLog
{
    private readonly Dictionary<string, string> _states = [];

    /// <summary>True when <paramref name="state"/> differs from the last one recorded for <paramref name="key"/>.</summary>
    public bool Change(string key, string state)
    {
        lock (_states)
        {
            if (_states.TryGetValue(key, out string? last) && last == state)
            {
                return false;
            }
            if (last is null && state is "up" or "")
            {
                _states[key] = state;
                return false; // the first "fine" is not a change worth a line
            }
            _states[key] = state;
            return true;
        }
    }
}

/// <summary>Doubling delays between retries, capped, with jitter so many nodes do not retry in step.</summary>
internal sealed class Backoff
{
    private readonly TimeSpan _min;
    private readonly TimeSpan _max;
    private TimeSpan _next;

    public Backoff(TimeSpan min, TimeSpan max)
    {
        _min = min;
        _max = max;
        _next = min;
    }

    public TimeSpan Next()
    {
        TimeSpan delay = _next;
        _next = TimeSpan.FromTicks(Math.Min(_max.Ticks, _next.Ticks * 2));
        return delay + TimeSpan.FromTicks((long)(delay.Ticks * 0.2 * Random.Shared.NextDouble()));
    }

    public void Reset() => _next = _min;
}
