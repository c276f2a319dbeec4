using System.IO.Pipelines;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Wetware.Capnp.Rpc;
using Wetware.Cells;
using Wetware.Identity;
using Wetware.Images;
using Wetware.P2p;

namespace Wetware.Host;

/// <summary>
/// Runs an image's <c>boot/main.wasm</c> as pid0 (shared/spec/cli.md, <c>ww run</c>): merges the layers,
/// starts the cell with the host's standard streams relayed through pipes, and on a stop request
/// closes pid0's stdin, gives it <see cref="HostOptions.StopGrace"/> to exit, then kills it.
/// </summary>
public static class Pid0
{
    /// <summary>The guest module size limit (shared/spec/README.md, Limits).</summary>
    public const long MaxModuleBytes = 32L * 1024 * 1024;

    public const string BootPath = "/boot/main.wasm";

    /// <summary>Runs pid0 to its end and returns its exit code. Host failures raise <see cref="HostException"/>.</summary>
    /// <param name="stop">Canceled on SIGINT/SIGTERM: close stdin, wait the grace period, kill.</param>
    /// <remarks>
    /// With <see cref="HostOptions.Stem"/>, the epoch's head is the base layer under <see cref="HostOptions.Layers"/>,
    /// and each later final epoch whose image could be fetched restarts pid0 on it (shared/spec/stem.md, "Adopt"):
    /// the new head is pinned and the old one unpinned, the epoch moves (the old capabilities go stale), the old pid0's
    /// stdin is closed and it has <see cref="HostOptions.StopGrace"/> to exit before it is killed with its children,
    /// and the new pid0 reads the host's stdin on from there. A voluntary exit of pid0 ends the run with its code.
    /// </remarks>
    public static async Task<int> RunAsync(HostOptions options, ILogger logger, CancellationToken stop = default)
    {
        using var ipfs = new Ipfs.IpfsClient(new Ipfs.IpfsClientOptions
        {
            ApiUrl = options.IpfsUrl ?? Ipfs.IpfsClientOptions.DefaultApiUrl,
            Timeout = options.IpfsTimeout ?? new Ipfs.IpfsClientOptions().Timeout,
        });
        // IPFS layers: listed now, files fetched when opened and kept by CID beside the module cache.
        var ipfsCache = IpfsFileCache.Beside(options.CacheDirectory ?? ModuleCache.DefaultDirectory);
        var imageOptions = new ImageOptions
        {
            StdImage = options.StdImage,
            Ipfs = async (layer, ct) => await IpfsLayerTree.OpenAsync(ipfs, ipfsCache, layer, logger, ct).ConfigureAwait(false),
        };
        EpochSource epochs;
        Pid0Image image;
        if (options.Stem is { } feed)
        {
            EpochInfo first;
            try
            {
                first = await feed.StartAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                throw new HostException("interrupted while the Atom contract's head was read");
            }
            image = await FirstEpochImageAsync(first, options, imageOptions, logger, stop).ConfigureAwait(false);
            epochs = options.Epochs ?? new EpochSource(first);
            if (first.Seq > epochs.Current.Seq)
            {
                epochs.Advance(first);
            }
            await PinAsync(ipfs, image.HeadLayer!, pin: true, logger).ConfigureAwait(false);
        }
        else
        {
            IReadOnlyList<string> layers = options.Layers.Count == 0 ? ["@std"] : options.Layers;
            image = await MergeAsync(layers, imageOptions, logger, stop).ConfigureAwait(false);
            epochs = options.Epochs ?? new EpochSource();
        }
        using NodeKey? ownKey = options.Identity is null ? ResolveKey(options.IdentityPath, image.Image, logger) : null;
        INodeIdentity identity = options.Identity ?? new NodeKeyIdentity(ownKey!);
        NodeKey nodeKey = ownKey ?? (identity as NodeKeyIdentity)?.Key
            ?? throw new HostException("the node identity has no secp256k1 key for the libp2p node");
        await using P2pNode node = await StartNodeAsync(nodeKey, options.ListenPort, logger, stop).ConfigureAwait(false);

        using var engine = new CellEngine(new CellEngineOptions
        {
            WasmDebug = options.WasmDebug,
            Cache = new ModuleCache(options.CacheDirectory ?? ModuleCache.DefaultDirectory),
        }, logger);
        var stdout = new Pipe();
        var stderr = new Pipe();
        using var stdinDone = new CancellationTokenSource();
        var stdin = new StdinRelay(options.Stdin);
        Task stdinPump = stdin.RunAsync(stdinDone.Token);
        Task stdoutPump = PumpOutAsync(stdout.Reader, options.Stdout);
        Task stderrPump = PumpOutAsync(stderr.Reader, options.Stderr);

        var env = new Dictionary<string, string> { ["PATH"] = "/bin" };
        if (options.Terminal)
        {
            env["WW_TTY"] = "1";
        }
        var host = new HostContext(identity, epochs, engine, logger)
        {
            Node = node,
            Ipfs = ipfs,
            ChildMemoryLimitBytes = (long)options.MemoryLimitMiB * 1024 * 1024,
        };
        GuestSession? current = null;
        // Remote nodes reach the running pid0's export over /ww/0.1.0 (shared/spec/network.md, "Capability export").
        node.SetStreamHandler(CapabilityExport.ProtocolId, new CapabilityExport(
            () => Volatile.Read(ref current) is { } s ? s.ExportAsync() : Task.FromResult<Capability?>(null), logger).ServeAsync);

        using var watchStop = CancellationTokenSource.CreateLinkedTokenSource(stop);
        Channel<Pid0Image> next = Channel.CreateBounded<Pid0Image>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        Task watch = options.Stem is { } stem
            ? WatchEpochsAsync(stem, options, imageOptions, epochs, engine, next.Writer, logger, watchStop.Token)
            : Task.CompletedTask;
        CellResult result;
        try
        {
            while (true)
            {
                GuestSession session = await StartPid0Async(engine, host, image, options, env, stdin.Attach(), stdout.Writer, stderr.Writer, logger, stop).ConfigureAwait(false);
                Volatile.Write(ref current, session);
                Cell cell = session.Cell;
                Pid0Image? adopted = null;
                await using (cell.ConfigureAwait(false))
                {
                    var stopRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    using (stop.Register(() => stopRequested.TrySetResult()))
                    {
                        Task<Pid0Image> nextEpoch = next.Reader.ReadAsync(watchStop.Token).AsTask();
                        Task first = await Task.WhenAny(cell.Completion, stopRequested.Task, nextEpoch).ConfigureAwait(false);
                        if (first == nextEpoch && nextEpoch.IsCompletedSuccessfully)
                        {
                            adopted = nextEpoch.Result;
                            await AdoptAsync(ipfs, epochs, image, adopted, logger).ConfigureAwait(false);
                            logger.LogInformation("epoch {Seq}: restarting pid0 on {Head}: its stdin is closed, it has {Grace} s to exit", adopted.Epoch!.Seq, adopted.HeadLayer, options.StopGrace.TotalSeconds);
                            await StopAsync(cell, stdin, options.StopGrace, logger).ConfigureAwait(false);
                        }
                        else if (first != cell.Completion)
                        {
                            logger.LogInformation("stopping pid0: its stdin is closed, it has {Grace} s to exit", options.StopGrace.TotalSeconds);
                            stdinDone.Cancel();
                            await StopAsync(cell, stdin, options.StopGrace, logger).ConfigureAwait(false);
                        }
                    }
                    result = await cell.Completion.ConfigureAwait(false);
                }
                Volatile.Write(ref current, null);
                if (adopted is null || stop.IsCancellationRequested)
                {
                    break;
                }
                image = adopted;
            }
        }
        finally
        {
            await watchStop.CancelAsync().ConfigureAwait(false);
            await watch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        stdinDone.Cancel();
        await stdout.Writer.CompleteAsync().ConfigureAwait(false);
        await stderr.Writer.CompleteAsync().ConfigureAwait(false);
        await Task.WhenAll(stdoutPump, stderrPump).ConfigureAwait(false);
        _ = stdinPump; // a blocked read of the host's stdin is abandoned, not awaited
        return result.ExitCode;
    }

    /// <summary>Closes pid0's stdin, gives it <paramref name="grace"/> to exit, then kills it (and so its children).</summary>
    private static async Task StopAsync(Cell cell, StdinRelay stdin, TimeSpan grace, ILogger logger)
    {
        stdin.Detach();
        if (await Task.WhenAny(cell.Completion, Task.Delay(grace, CancellationToken.None)).ConfigureAwait(false) != cell.Completion)
        {
            logger.LogWarning("pid0 did not exit within {Grace} s: killing it", grace.TotalSeconds);
            cell.Kill();
        }
    }

    private static async Task<GuestSession> StartPid0Async(CellEngine engine, HostContext host, Pid0Image image, HostOptions options, Dictionary<string, string> env,
        PipeReader stdin, PipeWriter stdout, PipeWriter stderr, ILogger logger, CancellationToken stop)
    {
        using Capability membrane = Capability.FromServer(new MembraneServer(host, GraftPolicy.Boot, null));
        try
        {
            return await GuestSession.StartAsync(engine, image.Wasm, new CellOptions
            {
                Name = "pid0",
                Args = [BootPath],
                Env = env,
                Stdin = stdin,
                Stdout = stdout,
                Stderr = stderr,
                Terminal = options.Terminal,
                Image = new MergedImageFileSystem(image.Image),
                MemoryLimitBytes = (long)options.MemoryLimitMiB * 1024 * 1024,
            }, membrane, null, logger, stop).ConfigureAwait(false);
        }
        catch (CellStartException e)
        {
            throw new HostException($"{BootPath} cannot start{(image.Epoch is { } epoch ? $" (epoch {epoch.Seq}, {image.HeadLayer})" : "")}: {e.Message}", e);
        }
        catch (OperationCanceledException)
        {
            throw new HostException("interrupted before pid0 started");
        }
    }

    /// <summary>The merged image of the given layers and its boot module.</summary>
    private static async Task<Pid0Image> MergeAsync(IReadOnlyList<string> layers, ImageOptions imageOptions, ILogger logger, CancellationToken cancellationToken,
        EpochInfo? epoch = null, string? headLayer = null)
    {
        MergedImage image;
        try
        {
            image = await ImageLayers.MergeAsync(layers, imageOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageException e)
        {
            throw new HostException(e.Message, e);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new HostException("interrupted while the image's layers were listed");
        }
        logger.LogDebug("merged {Count} paths from {Layers}", image.Count, string.Join(", ", layers));
        return new Pid0Image(image, ReadBoot(image, layers), epoch, headLayer);
    }

    /// <summary>The layers of an epoch: its head as the base, the LAYER arguments over it.</summary>
    private static string[] EpochLayers(EpochInfo epoch, HostOptions options, out string headLayer)
    {
        headLayer = HeadLayer(epoch.Head.Span);
        return [headLayer, .. options.Layers];
    }

    /// <summary>
    /// The image of the epoch read at start. Its head is retried for up to <see cref="HostOptions.StemStartTimeout"/>
    /// (the IPFS node may be starting too); then <c>ww run</c> fails naming the head and the reason.
    /// </summary>
    private static async Task<Pid0Image> FirstEpochImageAsync(EpochInfo first, HostOptions options, ImageOptions imageOptions, ILogger logger, CancellationToken stop)
    {
        string[] layers;
        string headLayer;
        try
        {
            layers = EpochLayers(first, options, out headLayer);
        }
        catch (HostException e)
        {
            throw new HostException($"the Atom head of epoch {first.Seq} cannot be used: {e.Message}", e);
        }
        DateTime deadline = DateTime.UtcNow + options.StemStartTimeout;
        var backoff = TimeSpan.FromMilliseconds(200);
        string? logged = null;
        while (true)
        {
            try
            {
                return await MergeAsync(layers, imageOptions, logger, stop, first, headLayer).ConfigureAwait(false);
            }
            catch (HostException e) when (!stop.IsCancellationRequested)
            {
                if (DateTime.UtcNow + backoff >= deadline)
                {
                    throw new HostException($"the head of epoch {first.Seq} ({headLayer}) could not be used within {options.StemStartTimeout.TotalSeconds:0.#} s: {e.Message}", e);
                }
                if (logged != e.Message)
                {
                    logger.LogWarning("the head of epoch {Seq} ({Head}) cannot be used yet: {Reason}; retrying", first.Seq, headLayer, e.Message);
                    logged = e.Message;
                }
                await Task.Delay(backoff, stop).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.StemRetryLimit.Ticks));
            }
        }
    }

    /// <summary>
    /// Follows the feed: each final epoch's image is fetched and merged and its boot module compiled before it is
    /// offered (a head that cannot be fetched, or whose image cannot boot, is not adopted: it is retried with
    /// back-off and logged once per reason, and a newer final epoch replaces it); of epochs that wait, only the
    /// newest is taken.
    /// </summary>
    private static async Task WatchEpochsAsync(IEpochFeed feed, HostOptions options, ImageOptions imageOptions, EpochSource epochs, CellEngine engine, ChannelWriter<Pid0Image> next, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                EpochInfo epoch = await feed.ReadAsync(cancellationToken).ConfigureAwait(false);
                var backoff = TimeSpan.FromMilliseconds(200);
                string? logged = null;
                while (true)
                {
                    while (feed.TryRead(out EpochInfo newer))
                    {
                        epoch = newer;
                    }
                    if (epoch.Seq <= epochs.Current.Seq)
                    {
                        break;
                    }
                    try
                    {
                        string[] layers = EpochLayers(epoch, options, out string headLayer);
                        Pid0Image image = await MergeAsync(layers, imageOptions, logger, cancellationToken, epoch, headLayer).ConfigureAwait(false);
                        // Compiled (or found in the module cache) before the running pid0 is stopped: a head whose
                        // boot module cannot start is not adopted, and the restart does not wait for the compiler.
                        try
                        {
                            engine.Prepare(image.Wasm);
                        }
                        catch (CellStartException e)
                        {
                            throw new HostException($"{BootPath} of {headLayer} cannot start: {e.Message}", e);
                        }
                        if (logged is not null)
                        {
                            logger.LogInformation("the head of epoch {Seq} ({Head}) can be used now", epoch.Seq, headLayer);
                        }
                        next.TryWrite(image);
                        break;
                    }
                    catch (HostException e) when (!cancellationToken.IsCancellationRequested)
                    {
                        if (logged != e.Message)
                        {
                            logger.LogWarning("epoch {Seq} is final but not adopted yet: {Reason}; keeping epoch {Current} and retrying", epoch.Seq, e.Message, epochs.Current.Seq);
                            logged = e.Message;
                        }
                        await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                        backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.StemRetryLimit.Ticks));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (ChannelClosedException)
        {
            logger.LogDebug("the epoch feed closed");
        }
    }

    /// <summary>Adopt step of shared/spec/stem.md: pin the new head, unpin the old one, publish the epoch (the old capabilities go stale).</summary>
    private static async Task AdoptAsync(Ipfs.IpfsClient ipfs, EpochSource epochs, Pid0Image old, Pid0Image adopted, ILogger logger)
    {
        await PinAsync(ipfs, adopted.HeadLayer!, pin: true, logger).ConfigureAwait(false);
        if (old.HeadLayer is { } oldHead && oldHead != adopted.HeadLayer)
        {
            await PinAsync(ipfs, oldHead, pin: false, logger).ConfigureAwait(false);
        }
        epochs.Advance(adopted.Epoch!);
    }

    /// <summary>Pins or unpins a head; a failure is logged (the head was fetched already, and a pin is upkeep, not correctness).</summary>
    private static async Task PinAsync(Ipfs.IpfsClient ipfs, string path, bool pin, ILogger logger)
    {
        try
        {
            if (pin)
            {
                await ipfs.PinAddAsync(path).ConfigureAwait(false);
            }
            else
            {
                await ipfs.PinRmAsync(path).ConfigureAwait(false);
            }
        }
        catch (Ipfs.IpfsException e)
        {
            logger.LogWarning("{Action} {Head} failed: {Reason}", pin ? "pinning" : "unpinning", path, e.Message);
        }
    }

    /// <summary>
    /// The IPFS path of an Atom head (shared/spec/stem.md): a binary CID (CIDv0 multihash or CIDv1), or UTF-8
    /// text that starts with <c>/ipfs/</c>.
    /// </summary>
    public static string HeadLayer(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("/ipfs/"u8))
        {
            try
            {
                string text = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(head);
                if (text.Length > "/ipfs/".Length && !text.Any(char.IsControl))
                {
                    return text.TrimEnd('/');
                }
            }
            catch (System.Text.DecoderFallbackException)
            {
                // Not UTF-8: below.
            }
            throw new HostException("the head starts with /ipfs/ but is not a UTF-8 IPFS path");
        }
        if (head.IsEmpty)
        {
            throw new HostException("the head is empty");
        }
        return Ipfs.Cid.TryFromBytes(head, out Ipfs.Cid? cid, out string? reason)
            ? "/ipfs/" + cid
            : throw new HostException($"the head is neither a binary CID ({reason}) nor /ipfs/ text");
    }

    /// <summary>What pid0 boots from: the merged image, its boot module and, under <c>--stem</c>, the epoch and its head's path.</summary>
    private sealed record Pid0Image(MergedImage Image, byte[] Wasm, EpochInfo? Epoch, string? HeadLayer);

    /// <summary>
    /// Starts the libp2p node on <c>/ip4/0.0.0.0/tcp/N</c> and <c>/ip6/::/tcp/N</c> (shared/spec/network.md). Without
    /// IPv6 the node goes on with IPv4 alone; a port in use is a host failure naming it.
    /// </summary>
    private static async Task<P2pNode> StartNodeAsync(NodeKey key, int port, ILogger logger, CancellationToken cancellationToken)
    {
        var node = new P2pNode(key, new P2pNodeOptions(), new OneLoggerFactory(logger));
        try
        {
            Multiaddr v4;
            try
            {
                v4 = await node.ListenAsync(Multiaddr.Parse($"/ip4/0.0.0.0/tcp/{port}"), cancellationToken).ConfigureAwait(false);
            }
            catch (P2pException e)
            {
                throw new HostException(NodeCalls.IsAddressInUse(e)
                    ? $"cannot listen on TCP port {port}: it is in use (choose another with --port, or 0 for a free one)"
                    : $"cannot listen on TCP port {port}: {e.InnerException?.Message ?? e.Reason}", e);
            }
            // With port 0, IPv6 takes the port IPv4 got, so the node has one port.
            int bound = NodeCalls.PortOf(v4);
            try
            {
                await node.ListenAsync(Multiaddr.Parse($"/ip6/::/tcp/{bound}"), cancellationToken).ConfigureAwait(false);
            }
            catch (P2pException e) when (NodeCalls.IsAddressInUse(e) && port != 0)
            {
                throw new HostException($"cannot listen on TCP port {port} (IPv6): it is in use (choose another with --port, or 0 for a free one)", e);
            }
            catch (P2pException e)
            {
                logger.LogWarning("no IPv6 listener ({Reason}): going on with IPv4 only", e.InnerException?.Message ?? e.Reason);
            }
            return node;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The node key (shared/spec/identity.md, "Which key ww run uses"): the given file; else
    /// <c>/etc/identity</c> of a local layer (one from a published layer is refused); else a new
    /// ephemeral key. The source is logged with the Peer ID, never the secret.
    /// </summary>
    private static NodeKey ResolveKey(string? path, MergedImage image, ILogger logger)
    {
        try
        {
            if (path is not null)
            {
                NodeKey given = NodeKey.Load(path, logger);
                logger.LogInformation("node identity from {Path}: {PeerId}", path, given.PeerId);
                return given;
            }
            if (image.IdentityFile is { } file)
            {
                if (file.HostPath is { } hostPath)
                {
                    NodeKey layered = NodeKey.Load(hostPath, logger);
                    logger.LogInformation("node identity from /etc/identity of layer '{Layer}': {PeerId}", file.Layer, layered.PeerId);
                    return layered;
                }
                logger.LogWarning("/etc/identity of layer '{Layer}' is refused: a key in a published layer is a published secret", file.Layer);
            }
        }
        catch (KeyFileException e)
        {
            throw new HostException(e.Message, e);
        }
        NodeKey ephemeral = NodeKey.Generate();
        logger.LogWarning("no node key given (--identity, WW_IDENTITY, /etc/identity): using an ephemeral key, so the Peer ID {PeerId} changes each run", ephemeral.PeerId);
        return ephemeral;
    }

    private static byte[] ReadBoot(MergedImage image, IReadOnlyList<string> layers)
    {
        if (!image.TryGet(BootPath, out Images.ImageEntry boot) || boot.IsDirectory)
        {
            throw new HostException($"no boot/main.wasm in the merged image (layers: {string.Join(", ", layers)})");
        }
        if (boot.Length > MaxModuleBytes)
        {
            throw new HostException($"{BootPath} (from layer '{boot.Layer}') is {boot.Length} bytes, over the {MaxModuleBytes / (1024 * 1024)} MiB module limit");
        }
        try
        {
            using Stream s = image.OpenRead(BootPath);
            var bytes = new byte[boot.Length];
            s.ReadExactly(bytes);
            if (s.ReadByte() != -1)
            {
                throw new HostException($"{BootPath} (from layer '{boot.Layer}') changed while it was read");
            }
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ImageException)
        {
            throw new HostException($"cannot read {BootPath} from layer '{boot.Layer}': {e.Message}", e);
        }
    }

    /// <summary>Relays what pid0 writes to a host stream, chunk by chunk, until pid0 is done.</summary>
    private static async Task PumpOutAsync(PipeReader from, Stream to)
    {
        try
        {
            while (true)
            {
                ReadResult r = await from.ReadAsync().ConfigureAwait(false);
                foreach (ReadOnlyMemory<byte> chunk in r.Buffer)
                {
                    await to.WriteAsync(chunk).ConfigureAwait(false);
                }
                await to.FlushAsync().ConfigureAwait(false);
                from.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    break;
                }
            }
            await from.CompleteAsync().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // The host's stream is gone (a closed pipe): pid0's next writes see EPIPE.
            await from.CompleteAsync(e).ConfigureAwait(false);
        }
    }
}
