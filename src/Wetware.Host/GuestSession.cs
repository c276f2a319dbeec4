using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Wetware.Capnp.Rpc;
using Wetware.Cells;

namespace Wetware.Host;

/// <summary>
/// One running guest and its RPC connection on fd 4: the host serves the guest's bootstrap (its
/// Membrane, or exactly what a parent gave) and can ask for what the guest exports. Children started
/// through it end when it ends.
/// </summary>
internal sealed class GuestSession
{
    private readonly List<GuestSession> _children = [];
    private readonly object _sync = new();
    private Task<Capability?>? _export;
    private bool _ended;

    private GuestSession(Cell cell, RpcConnection connection, ILogger logger)
    {
        Cell = cell;
        Connection = connection;
        Logger = logger;
    }

    public Cell Cell { get; }

    public RpcConnection Connection { get; }

    public ILogger Logger { get; }

    /// <summary>Starts a guest whose fd 4 serves <paramref name="bootstrap"/> (null: the guest's Bootstrap is answered with an error).</summary>
    public static async Task<GuestSession> StartAsync(CellEngine engine, ReadOnlyMemory<byte> wasm, CellOptions options, Capability? bootstrap,
        GuestSession? parent, ILogger logger, CancellationToken cancellationToken)
    {
        Cell cell = await engine.StartAsync(wasm, options, cancellationToken).ConfigureAwait(false);
        var connection = new RpcConnection(cell.Rpc, bootstrap);
        var session = new GuestSession(cell, connection, logger);
        connection.Start();
        if (parent is not null && !parent.Adopt(session))
        {
            cell.Kill(); // the parent ended while this child started
        }
        _ = session.WatchAsync();
        return session;
    }

    private bool Adopt(GuestSession child)
    {
        lock (_sync)
        {
            if (_ended)
            {
                return false;
            }
            _children.Add(child);
            return true;
        }
    }

    private async Task WatchAsync()
    {
        CellResult result = await Cell.Completion.ConfigureAwait(false);
        List<GuestSession> children;
        lock (_sync)
        {
            _ended = true;
            children = [.. _children];
            _children.Clear();
        }
        foreach (GuestSession child in children)
        {
            child.Cell.Kill(); // children die with the guest that started them
        }
        // The cell closed fd 4 before it told of its end, so the connection reads what the guest wrote last
        // (the Return of a call it served just before it exited), then the end of the stream, and closes.
        // Disposing it at once instead would fail the host's calls whose answers were still in the pipe.
        await Connection.Completion.ConfigureAwait(false);
        await Connection.DisposeAsync().ConfigureAwait(false);
        Logger.LogDebug("{Cell} ended with {Code} ({Reason})", Cell.Name, result.ExitCode, result.Reason);
    }

    /// <summary>What the guest exports on fd 4 (its bootstrap), or null if it serves none or has ended. An export is
    /// asked for once and reused; "none" is asked again next time, as a running guest may export later.</summary>
    public Task<Capability?> ExportAsync()
    {
        lock (_sync)
        {
            if (_export is { IsCompletedSuccessfully: true, Result: null } && !Cell.Completion.IsCompleted)
            {
                _export = null;
            }
            return _export ??= FetchExportAsync();
        }
    }

    private async Task<Capability?> FetchExportAsync()
    {
        Task<Capability> boot = Connection.BootstrapAsync();
        if (await Task.WhenAny(boot, Cell.Completion).ConfigureAwait(false) != boot && !boot.IsCompleted)
        {
            _ = boot.ContinueWith(t => t.Result.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);
            return null;
        }
        try
        {
            return await boot.ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            Logger.LogDebug("{Cell} exports nothing: {Reason}", Cell.Name, e.Reason);
            return null;
        }
    }
}

/// <summary>Bounded pipes for a child's standard streams (shared/spec/interfaces.md: 1 MiB by default, back-pressure, no loss).</summary>
internal static class StreamPipes
{
    public static Pipe Create(long bound) => new(new PipeOptions(
        pauseWriterThreshold: bound, resumeWriterThreshold: bound / 2, useSynchronizationContext: false));
}
