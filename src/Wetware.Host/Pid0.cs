using System.IO.Pipelines;
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
    public static async Task<int> RunAsync(HostOptions options, ILogger logger, CancellationToken stop = default)
    {
        IReadOnlyList<string> layers = options.Layers.Count == 0 ? ["@std"] : options.Layers;
        using var ipfs = new Ipfs.IpfsClient(new Ipfs.IpfsClientOptions
        {
            ApiUrl = options.IpfsUrl ?? Ipfs.IpfsClientOptions.DefaultApiUrl,
            Timeout = options.IpfsTimeout ?? new Ipfs.IpfsClientOptions().Timeout,
        });
        // IPFS layers: listed now, files fetched when opened and kept by CID beside the module cache.
        var ipfsCache = IpfsFileCache.Beside(options.CacheDirectory ?? ModuleCache.DefaultDirectory);
        MergedImage image;
        try
        {
            image = await ImageLayers.MergeAsync(layers, new ImageOptions
            {
                StdImage = options.StdImage,
                Ipfs = async (layer, ct) => await IpfsLayerTree.OpenAsync(ipfs, ipfsCache, layer, logger, ct).ConfigureAwait(false),
            }, stop).ConfigureAwait(false);
        }
        catch (ImageException e)
        {
            throw new HostException(e.Message, e);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw new HostException("interrupted while the image's layers were listed");
        }
        logger.LogDebug("merged {Count} paths from {Layers}", image.Count, string.Join(", ", layers));
        byte[] wasm = ReadBoot(image, layers);
        using NodeKey? ownKey = options.Identity is null ? ResolveKey(options.IdentityPath, image, logger) : null;
        INodeIdentity identity = options.Identity ?? new NodeKeyIdentity(ownKey!);
        NodeKey nodeKey = ownKey ?? (identity as NodeKeyIdentity)?.Key
            ?? throw new HostException("the node identity has no secp256k1 key for the libp2p node");
        await using P2pNode node = await StartNodeAsync(nodeKey, options.ListenPort, logger, stop).ConfigureAwait(false);

        using var engine = new CellEngine(new CellEngineOptions
        {
            WasmDebug = options.WasmDebug,
            Cache = new ModuleCache(options.CacheDirectory ?? ModuleCache.DefaultDirectory),
        }, logger);
        var stdin = new Pipe();
        var stdout = new Pipe();
        var stderr = new Pipe();
        using var stdinDone = new CancellationTokenSource();
        Task stdinPump = PumpInAsync(options.Stdin, stdin.Writer, stdinDone.Token);
        Task stdoutPump = PumpOutAsync(stdout.Reader, options.Stdout);
        Task stderrPump = PumpOutAsync(stderr.Reader, options.Stderr);

        var env = new Dictionary<string, string> { ["PATH"] = "/bin" };
        if (options.Terminal)
        {
            env["WW_TTY"] = "1";
        }
        var host = new HostContext(identity, options.Epochs ?? new EpochSource(), engine, logger)
        {
            Node = node,
            Ipfs = ipfs,
            ChildMemoryLimitBytes = (long)options.MemoryLimitMiB * 1024 * 1024,
        };
        GuestSession session;
        using (Capability membrane = Capability.FromServer(new MembraneServer(host, GraftPolicy.Boot, null)))
        {
            try
            {
                session = await GuestSession.StartAsync(engine, wasm, new CellOptions
                {
                    Name = "pid0",
                    Args = [BootPath],
                    Env = env,
                    Stdin = stdin.Reader,
                    Stdout = stdout.Writer,
                    Stderr = stderr.Writer,
                    Terminal = options.Terminal,
                    Image = new MergedImageFileSystem(image),
                    MemoryLimitBytes = (long)options.MemoryLimitMiB * 1024 * 1024,
                }, membrane, null, logger, stop).ConfigureAwait(false);
            }
            catch (CellStartException e)
            {
                throw new HostException($"{BootPath} cannot start: {e.Message}", e);
            }
            catch (OperationCanceledException)
            {
                throw new HostException("interrupted before pid0 started");
            }
        }
        Cell cell = session.Cell;
        // Remote nodes reach pid0's export over /ww/0.1.0 from now on (shared/spec/network.md, "Capability export").
        node.SetStreamHandler(CapabilityExport.ProtocolId, new CapabilityExport(session.ExportAsync, logger).ServeAsync);

        CellResult result;
        await using (cell.ConfigureAwait(false))
        {
            var stopRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (stop.Register(() => stopRequested.TrySetResult()))
            {
                if (await Task.WhenAny(cell.Completion, stopRequested.Task).ConfigureAwait(false) != cell.Completion)
                {
                    logger.LogInformation("stopping pid0: its stdin is closed, it has {Grace} s to exit", options.StopGrace.TotalSeconds);
                    stdinDone.Cancel();
                    await stdin.Writer.CompleteAsync().ConfigureAwait(false);
                    if (await Task.WhenAny(cell.Completion, Task.Delay(options.StopGrace, CancellationToken.None)).ConfigureAwait(false) != cell.Completion)
                    {
                        logger.LogWarning("pid0 did not exit within {Grace} s: killing it", options.StopGrace.TotalSeconds);
                        cell.Kill();
                    }
                }
            }
            result = await cell.Completion.ConfigureAwait(false);
        }
        stdinDone.Cancel();
        await stdout.Writer.CompleteAsync().ConfigureAwait(false);
        await stderr.Writer.CompleteAsync().ConfigureAwait(false);
        await Task.WhenAll(stdoutPump, stderrPump).ConfigureAwait(false);
        _ = stdinPump; // a blocked read of the host's stdin is abandoned, not awaited
        return result.ExitCode;
    }

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

    /// <summary>Relays the host's stdin to pid0 until end of file or until stopped.</summary>
    private static async Task PumpInAsync(Stream from, PipeWriter to, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                Memory<byte> buffer = to.GetMemory(16 * 1024);
                int n = await from.ReadAsync(buffer, stop).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                to.Advance(n);
                FlushResult r = await to.FlushAsync(stop).ConfigureAwait(false);
                if (r.IsCompleted)
                {
                    return;
                }
            }
            await to.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Stopped, or the pipe was completed by the stop path.
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
