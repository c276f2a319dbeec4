using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using Module = Wasmtime.Module;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Wasmtime;
using Wetware.Cells.Wasi;

namespace Wetware.Cells;

/// <summary>Settings shared by every cell of one <see cref="CellEngine"/>.</summary>
public sealed class CellEngineOptions
{
    /// <summary>The default cap on a module's size (shared/spec/README.md).</summary>
    public const long DefaultMaxModuleBytes = 32L * 1024 * 1024;

    /// <summary>
    /// Keep DWARF (wasm debug info) so traps show source lines (<c>ww run --wasm-debug</c>). Wasmtime takes this
    /// from the process environment (WASMTIME_BACKTRACE_DETAILS), which each new engine therefore sets.
    /// </summary>
    public bool WasmDebug { get; init; }

    /// <summary>Where compiled modules are kept between runs. Null: compile once per engine, keep nothing on disk.</summary>
    public ModuleCache? Cache { get; init; } = new ModuleCache(ModuleCache.DefaultDirectory);

    /// <summary>Larger modules are refused before compiling.</summary>
    public long MaxModuleBytes { get; init; } = DefaultMaxModuleBytes;

    /// <summary>The default <see cref="PooledCells"/>.</summary>
    public const int DefaultPooledCells = 128;

    /// <summary>
    /// How many cells at once run in slots of Wasmtime's pooling allocator, which start and end without
    /// memory-mapping calls. Cells beyond it, and modules outside the pool's limits (more than one table or
    /// memory, a table above 20000 elements), run with memory mapped for them: slower to start, never refused.
    /// Each slot reserves about 4 GiB of address space (not memory). 0: no pool.
    /// </summary>
    public int PooledCells { get; init; } = DefaultPooledCells;
}

/// <summary>
/// Runs cells: a Wasmtime engine with our WASI on its linker (two when the pool of instance slots is in use,
/// see <see cref="CellEngineOptions.PooledCells"/>), compiled modules (in memory by their bytes, on disk by
/// content hash in a <see cref="ModuleCache"/>), and the epoch ticker that lets a kill stop a guest in a loop.
/// Each guest gets its own store and its own thread. Disposing the engine kills what still runs.
/// </summary>
public sealed partial class CellEngine : IDisposable
{
    /// <summary>How often the epoch advances while cells run: a kill lands within about one interval.</summary>
    internal static readonly TimeSpan EpochInterval = TimeSpan.FromMilliseconds(5);

    private const int MemoryCacheEntries = 64;
    private const int CellThreadStackBytes = 4 * 1024 * 1024;

    private static readonly object ConfigGate = new();
    private readonly bool _wasmDebug;
    private readonly WasmRuntime? _pooled;
    private readonly int _slots;
    private readonly object _runtimeGate = new();
    private WasmRuntime? _unpooled;
    private int _slotsInUse;
    private int _poolFullLogged;
    private readonly EpochTicker _ticker;
    private readonly CellThreads _threads = new(CellThreadStackBytes);
    private readonly ModuleCache? _cache;
    private readonly long _maxModuleBytes;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<byte[], LoadedModule> _modules = new(WasmBytesComparer.Instance);
    private readonly ConcurrentDictionary<Cell, byte> _running = new();
    private bool _disposed;

    /// <param name="options">Engine-wide settings; null for the defaults.</param>
    /// <param name="logger">Receives traps (with backtraces), compilations and cache problems.</param>
    public CellEngine(CellEngineOptions? options = null, ILogger? logger = null)
    {
        options ??= new CellEngineOptions();
        _logger = logger ?? NullLogger.Instance;
        _cache = options.Cache;
        _maxModuleBytes = options.MaxModuleBytes;
        _wasmDebug = options.WasmDebug;
        int wanted = Math.Max(0, options.PooledCells);
        _slots = WasmRuntime.AffordableSlots(wanted);
        if (_slots < wanted)
        {
            Log.PoolReduced(_logger, wanted, _slots);
        }
        if (_slots > 0)
        {
            _pooled = NewRuntime(_slots);
        }
        else
        {
            _unpooled = NewRuntime(0);
        }
        _ticker = new EpochTicker(IncrementEpochs, EpochInterval);
        EngineKey = $"wasmtime-{WasmtimeVersion}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}{(options.WasmDebug ? "-dwarf" : "")}";
    }

    /// <summary>The Wasmtime release this engine runs ("50.0.1").</summary>
    public static string WasmtimeVersion { get; } =
        (typeof(Engine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(Engine).Assembly.GetName().Version?.ToString() ?? "unknown").Split('+')[0];

    /// <summary>The part of the cache key that names the compiler and its settings.</summary>
    internal string EngineKey { get; }

    internal int Compilations;
    internal int DiskCacheHits;

    /// <summary>Cells instantiated in a pool slot, and with memory mapped for them.</summary>
    internal int PooledStarts;
    internal int UnpooledStarts;

    /// <summary>The runtime without a pool, created on first need (or at once when there is no pool).</summary>
    internal WasmRuntime Unpooled
    {
        get
        {
            if (Volatile.Read(ref _unpooled) is { } runtime)
            {
                return runtime;
            }
            lock (_runtimeGate)
            {
                return _unpooled ??= NewRuntime(0);
            }
        }
    }

    internal EpochTicker Ticker => _ticker;

    internal CellThreads Threads => _threads;

    internal ILogger Logger => _logger;

    /// <summary>
    /// Starts a guest on its own thread and returns once it runs (its <c>_start</c> is called). Compiling,
    /// or loading the compiled module from the cache, happens first on that thread; <paramref name="wasm"/>
    /// must stay unchanged until this returns.
    /// </summary>
    /// <exception cref="CellStartException">The module is too large, invalid, imports something we do not
    /// give (<c>unknown import: module.name</c>), lacks <c>_start</c> or <c>memory</c>, or cannot be instantiated.</exception>
    public async Task<Cell> StartAsync(ReadOnlyMemory<byte> wasm, CellOptions options, CancellationToken cancellationToken = default)
    {
        Cell cell = Start(wasm, options, cancellationToken);
        try
        {
            return await cell.Started.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Nobody will hold this cell: do not leave it running.
            cell.Kill();
            throw;
        }
    }

    /// <summary>Starts a guest and waits for it to end; canceling kills it (exit code 137).</summary>
    /// <exception cref="CellStartException">As <see cref="StartAsync"/>.</exception>
    public async Task<CellResult> RunAsync(ReadOnlyMemory<byte> wasm, CellOptions options, CancellationToken cancellationToken = default)
    {
        // Completion alone: it fails as Started does when the start fails, and waiting for Started too
        // would cost a thread-pool hop per run.
        Cell cell = Start(wasm, options, cancellationToken);
        using (cancellationToken.Register(cell.Kill))
        {
            return await cell.Completion.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Compiles <paramref name="wasm"/> (or finds it compiled, in memory or in the module cache) and checks its
    /// imports and exports, without running it: a later start of the same bytes does not compile again and does
    /// not fail on the module. For a host that must know a module is good before it stops the one it replaces.
    /// </summary>
    /// <exception cref="CellStartException">The module is too large, invalid, imports something we do not give, or lacks <c>_start</c> or <c>memory</c>.</exception>
    public void Prepare(ReadOnlySpan<byte> wasm)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ThrowIfTooLarge(wasm.Length);
        LoadModule(wasm);
    }

    private void ThrowIfTooLarge(int length)
    {
        if (length > _maxModuleBytes)
        {
            Log.LimitReached(_logger, "module size", _maxModuleBytes, length);
            throw new CellStartException($"module is {length} bytes, above the limit of {_maxModuleBytes} bytes");
        }
    }

    /// <summary>Hands a new cell to a thread of its own; <paramref name="wasm"/> must stay unchanged until it started.</summary>
    private Cell Start(ReadOnlyMemory<byte> wasm, CellOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfTooLarge(wasm.Length);
        var cell = new Cell(this, wasm, options);
        lock (_running)
        {
            // Under the same lock as Dispose's snapshot: no cell starts on an engine being freed.
            ObjectDisposedException.ThrowIf(_disposed, this);
            _running[cell] = 0;
        }
        _threads.Run(cell.ThreadMain, "cell " + options.Name);
        return cell;
    }

    /// <summary>Kills every cell still running, waits (bounded) for them, and frees the engine.</summary>
    public void Dispose()
    {
        Cell[] running;
        lock (_running)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            running = [.. _running.Keys];
        }
        foreach (Cell cell in running)
        {
            cell.Kill();
        }
        Task.WaitAll([.. running.Select(c => c.Ended)], TimeSpan.FromSeconds(5));
        _ticker.Dispose();
        _threads.Dispose();
        if (_running.IsEmpty)
        {
            // Native objects go only when no cell can still touch them.
            _pooled?.Dispose();
            _unpooled?.Dispose();
        }
    }

    internal void Forget(Cell cell) => _running.TryRemove(cell, out _);

    /// <summary>The compiled module for these bytes: from memory, from the disk cache, or compiled now.</summary>
    internal LoadedModule LoadModule(ReadOnlySpan<byte> wasm)
    {
        // In memory by the bytes themselves (compared, not hashed: WasmBytesComparer); on disk by SHA-256.
        if (_modules.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(wasm, out LoadedModule? module))
        {
            return module;
        }
        string hash = Convert.ToHexStringLower(SHA256.HashData(wasm));
        module = FromDiskCache(hash) ?? Compile(wasm, hash);
        CheckInterface(module.Any);
        if (_modules.Count >= MemoryCacheEntries)
        {
            // A crude bound: forget everything; modules in use stay alive through their cells.
            _modules.Clear();
        }
        return _modules.GetOrAdd(wasm.ToArray(), module);
    }

    /// <summary>
    /// Where a cell runs <paramref name="module"/>: in a pool slot when one is free and the module fits the
    /// pool, else with memory mapped for it. A slot taken here is given back by <see cref="Release"/>.
    /// </summary>
    internal (WasmRuntime Runtime, Module Module) Place(LoadedModule module)
    {
        if (module.Pooled is { } pooled && TryTakeSlot())
        {
            return (_pooled!, pooled);
        }
        if (module.Pooled is not null && Interlocked.Exchange(ref _poolFullLogged, 1) == 0)
        {
            Log.PoolFull(_logger, _slots);
        }
        WasmRuntime unpooled = Unpooled;
        return (unpooled, module.Unpooled(unpooled));
    }

    /// <summary>A cell placed on <paramref name="runtime"/> has disposed of its store.</summary>
    internal void Release(WasmRuntime runtime)
    {
        if (runtime.Pooled)
        {
            Interlocked.Decrement(ref _slotsInUse);
        }
    }

    private bool TryTakeSlot()
    {
        int inUse = Volatile.Read(ref _slotsInUse);
        while (inUse < _slots)
        {
            int seen = Interlocked.CompareExchange(ref _slotsInUse, inUse + 1, inUse);
            if (seen == inUse)
            {
                return true;
            }
            inUse = seen;
        }
        return false;
    }

    private WasmRuntime NewRuntime(int slots)
    {
        lock (ConfigGate)
        {
            // Source lines in trap backtraces need Wasmtime's WASMTIME_BACKTRACE_DETAILS, which it reads from
            // the native environment when a Config is made (the C API has no setter for it).
            NativeEnvironment.Set("WASMTIME_BACKTRACE_DETAILS", _wasmDebug ? "1" : "0");
            return WasmRuntime.Create(_wasmDebug, slots);
        }
    }

    private void IncrementEpochs()
    {
        _pooled?.Engine.IncrementEpoch();
        Volatile.Read(ref _unpooled)?.Engine.IncrementEpoch();
    }

    /// <summary>The runtimes a module is loaded into, in order of preference.</summary>
    private IEnumerable<WasmRuntime> Runtimes()
    {
        if (_pooled is not null)
        {
            yield return _pooled;
        }
        yield return Unpooled;
    }

    private static LoadedModule Loaded(string hash, WasmRuntime runtime, Module module) =>
        runtime.Pooled ? new LoadedModule(hash, module, null) : new LoadedModule(hash, null, module);

    private LoadedModule? FromDiskCache(string hash)
    {
        if (_cache?.TryRead(EngineKey, hash, _logger) is not { } payload)
        {
            return null;
        }
        WasmtimeException? refused = null;
        foreach (WasmRuntime runtime in Runtimes())
        {
            try
            {
                Module module = Module.Deserialize(runtime.Engine, hash[..16], payload);
                Interlocked.Increment(ref DiskCacheHits);
                return Loaded(hash, runtime, module);
            }
            catch (WasmtimeException e)
            {
                // Outside the pool's limits (the runtime without a pool takes it), or checksummed but not
                // loadable: written by another Wasmtime build or setting (both refuse it).
                refused = e;
            }
        }
        Log.CacheEntryRejected(_logger, _cache.EntryPath(EngineKey, hash), refused!.Message);
        return null;
    }

    private LoadedModule Compile(ReadOnlySpan<byte> wasm, string hash)
    {
        long started = Stopwatch.GetTimestamp();
        if (Module.Validate((_pooled ?? Unpooled).Engine, wasm) is { } invalid)
        {
            throw new CellStartException($"invalid module: {invalid}");
        }
        WasmtimeException? refused = null;
        foreach (WasmRuntime runtime in Runtimes())
        {
            Module module;
            try
            {
                module = Module.FromBytes(runtime.Engine, hash[..16], wasm);
            }
            catch (WasmtimeException e)
            {
                // Valid, but outside the pool's limits: the runtime without a pool takes it.
                refused = e;
                continue;
            }
            Interlocked.Increment(ref Compilations);
            Log.Compiled(_logger, hash, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            _cache?.Write(EngineKey, hash, module.Serialize(), _logger);
            return Loaded(hash, runtime, module);
        }
        throw new CellStartException($"invalid module: {refused!.Message}", refused);
    }

    /// <summary>guest-abi.md: imports only from wasi_snapshot_preview1, exports <c>_start</c> and <c>memory</c>.</summary>
    private static void CheckInterface(Module module)
    {
        foreach (Import import in module.Imports)
        {
            if (import.ModuleName != WasiPreview1.ModuleName || !WasiPreview1.FunctionNames.Contains(import.Name) || import is not FunctionImport)
            {
                throw new CellStartException($"unknown import: {import.ModuleName}.{import.Name}");
            }
        }
        if (!module.Exports.Any(e => e is FunctionExport && e.Name == "_start"))
        {
            throw new CellStartException("the module does not export a _start function");
        }
        if (!module.Exports.Any(e => e is MemoryExport && e.Name == "memory"))
        {
            throw new CellStartException("the module does not export its memory as \"memory\"");
        }
    }

    /// <summary>
    /// The process environment as native code sees it: on Unix, .NET's Environment.SetEnvironmentVariable
    /// changes only a managed copy, while Wasmtime (Rust) reads the C library's.
    /// </summary>
    private static partial class NativeEnvironment
    {
        public static void Set(string name, string value)
        {
            if (OperatingSystem.IsWindows())
            {
                Environment.SetEnvironmentVariable(name, value);
            }
            else
            {
                _ = SetEnv(name, value, 1);
            }
        }

        [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
        private static partial int SetEnv(string name, string value, int overwrite);
    }
}
