using System.IO.Pipelines;
using System.Text;
using Wasmtime;
using Wetware.Cells.Wasi;

namespace Wetware.Cells;

/// <summary>
/// A running guest: one Wasmtime store on its own thread. <see cref="Rpc"/> is the host's end of the guest's
/// fd 4; <see cref="Completion"/> gives its exit code; <see cref="Kill"/> stops it, even in an endless loop or
/// a blocked read.
/// </summary>
public sealed class Cell : IAsyncDisposable
{
    // Each direction of fd 4 buffers at most about this much before the writer waits.
    private const long RpcPauseBytes = 1024 * 1024;
    private const long RpcResumeBytes = 512 * 1024;

    // Guest-side continuations run inline (they only wake the cell's thread); host-side ones go to the
    // pool, so host code never runs on, or waits for, a guest's thread.
    private static readonly PipeOptions ToGuestOptions = new(
        pauseWriterThreshold: RpcPauseBytes, resumeWriterThreshold: RpcResumeBytes,
        readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.ThreadPool, useSynchronizationContext: false);

    private static readonly PipeOptions FromGuestOptions = new(
        pauseWriterThreshold: RpcPauseBytes, resumeWriterThreshold: RpcResumeBytes,
        readerScheduler: PipeScheduler.ThreadPool, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false);

    private readonly CellEngine _engine;
    private readonly ReadOnlyMemory<byte> _wasm;
    private readonly CellOptions _options;
    private readonly WasiContext _context;
    private readonly Pipe _toGuest;
    private readonly Pipe _fromGuest;
    private readonly TaskCompletionSource<Cell> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<CellResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _timedOut;

    internal Cell(CellEngine engine, ReadOnlyMemory<byte> wasm, CellOptions options)
    {
        _engine = engine;
        _wasm = wasm;
        _options = options;
        _toGuest = new Pipe(ToGuestOptions);
        _fromGuest = new Pipe(FromGuestOptions);
        Rpc = new DuplexPipe(_fromGuest.Reader, _toGuest.Writer);

        // Absent streams need no pipes: no stdin reads as end of file, no stdout or stderr discards.
        var rpcInput = new GuestInput(_toGuest.Reader);
        var fds = new Descriptor?[]
        {
            new InputDescriptor(new GuestInput(options.Stdin), options.Terminal),
            new OutputDescriptor(new GuestOutput(options.Stdout, partial: false), options.Terminal),
            new OutputDescriptor(new GuestOutput(options.Stderr, partial: false), options.Terminal),
            options.Image is { } image ? new DirectoryDescriptor(image, "", Rights.ReadableDirectory) : null,
            new RpcDescriptor(rpcInput, new GuestOutput(_fromGuest.Writer, partial: true), () =>
            {
                _fromGuest.Writer.Complete();
                rpcInput.Release();
                _toGuest.Reader.Complete();
            }),
        };
        var env = new List<string>(options.Env.Count);
        foreach (KeyValuePair<string, string> kv in options.Env)
        {
            env.Add(kv.Key + "=" + kv.Value);
        }
        _context = new WasiContext(options.Args, env, fds);
    }

    /// <summary>The name given in <see cref="CellOptions.Name"/>.</summary>
    public string Name => _options.Name;

    /// <summary>
    /// The host's end of the guest's fd 4: read what the guest writes, write what it reads. Completing the
    /// output gives the guest end of file; the input ends when the guest closes fd 4 or exits.
    /// </summary>
    public IDuplexPipe Rpc { get; }

    /// <summary>The guest's end: never faults, whatever the guest does.</summary>
    public Task<CellResult> Completion => _completion.Task;

    internal Task<Cell> Started => _started.Task;

    /// <summary>Completes when the cell's thread is done with its store (also after a failed start).</summary>
    internal Task Ended => _ended.Task;

    /// <summary>
    /// Stops the guest: at its next epoch check if it computes (within a few milliseconds), at once if it
    /// waits in a host call. Its exit code is then 137. Safe from any thread, any number of times.
    /// </summary>
    public void Kill()
    {
        _context.Kill();
        _engine.Ticker.Wake();
    }

    /// <summary>Kills the guest and waits for it to end.</summary>
    public async ValueTask DisposeAsync()
    {
        Kill();
        await Ended.ConfigureAwait(false);
    }

    internal void ThreadMain()
    {
        _engine.Ticker.Enter();
        Timer? timer = null;
        CellResult? result = null;
        CellStartException? failure = null;
        try
        {
            (result, failure) = Run(ref timer);
        }
        catch (Exception e)
        {
            // A fault of ours, not the guest's: still an end, never an unobserved crash.
            if (_started.Task.IsCompleted)
            {
                result = new CellResult(CellResult.TrapExitCode, CellExitReason.Trapped, "host failure: " + e);
            }
            else
            {
                failure = new CellStartException($"cannot start the cell: {e.Message}", e);
            }
        }
        finally
        {
            timer?.Dispose();
            // Streams are given back before anyone learns of the end: a restarted guest may read on.
            _context.CloseAll();
            _engine.Ticker.Exit();
            _engine.Forget(this);
            if (failure is not null)
            {
                _started.TrySetException(failure);
                _completion.TrySetException(failure);
            }
            else
            {
                result ??= new CellResult(CellResult.KilledExitCode, CellExitReason.Killed);
                Log.Ended(_engine.Logger, Name, result.ExitCode, result.Reason);
                _started.TrySetResult(this);
                _completion.TrySetResult(result);
            }
            _ended.TrySetResult();
        }
    }

    private (CellResult?, CellStartException?) Run(ref Timer? timer)
    {
        LoadedModule module;
        try
        {
            module = _engine.LoadModule(_wasm.Span);
        }
        catch (CellStartException e)
        {
            return (null, e);
        }
        if (_options.Timeout is { } timeout)
        {
            timer = new Timer(static s => ((Cell)s!).TimeOut(), this, timeout, System.Threading.Timeout.InfiniteTimeSpan);
        }
        (WasmRuntime runtime, Module compiled) = _engine.Place(module);
        (CellResult?, CellStartException?) outcome;
        try
        {
            outcome = RunIn(runtime, compiled);
        }
        finally
        {
            _engine.Release(runtime);
        }
        if (outcome.Item2 is not null && runtime.Pooled)
        {
            // The pool refused the instance for a limit the module's own check does not cover: run it with
            // memory of its own. A failure that is the module's own comes again there, and is reported.
            _context.Memory = null;
            WasmRuntime unpooled = _engine.Unpooled;
            outcome = RunIn(unpooled, module.Unpooled(unpooled));
        }
        return outcome;
    }

    /// <summary>Instantiates and runs the guest in a store of <paramref name="runtime"/>, disposed on return.</summary>
    private (CellResult?, CellStartException?) RunIn(WasmRuntime runtime, Module module)
    {
        using var store = new Store(runtime.Engine, _context);
        store.SetLimits(memorySize: _options.MemoryLimitBytes);
        store.SetEpochDeadline(1);
        store.SetEpochDeadlineCallback(OnEpochDeadline);
        Instance instance;
        try
        {
            instance = runtime.Linker.Instantiate(store, module);
        }
        catch (WasmtimeException e) when (e is not TrapException && _context.ExitCode is null && !_context.Killed)
        {
            // Not something the guest ran into, but something it asks for that we do not give
            // (a wrong import signature, an initial memory above the limit).
            return (null, new CellStartException($"cannot instantiate the module: {e.Message}", e));
        }
        catch (Exception e)
        {
            // The guest's own start function trapped, exited or was killed.
            return (Classify(e), null);
        }
        Interlocked.Increment(ref runtime.Pooled ? ref _engine.PooledStarts : ref _engine.UnpooledStarts);
        _context.Memory = instance.GetMemory("memory");
        Action start = instance.GetAction("_start")!;
        _started.TrySetResult(this);
        if (_context.Killed)
        {
            return (Classify(new CellKilledException()), null);
        }
        try
        {
            start();
            return (new CellResult(0, CellExitReason.Exited), null);
        }
        catch (Exception e)
        {
            return (Classify(e), null);
        }
    }

    private static ulong OnEpochDeadline(Store store)
    {
        if (((WasiContext)store.GetData()!).Killed)
        {
            throw new CellKilledException();
        }
        return 1;
    }

    private void TimeOut()
    {
        _timedOut = true;
        Kill();
    }

    private CellResult Classify(Exception e)
    {
        if (_context.ExitCode is int code)
        {
            return new CellResult(code, CellExitReason.Exited);
        }
        if (_context.Killed)
        {
            return new CellResult(CellResult.KilledExitCode, _timedOut ? CellExitReason.TimedOut : CellExitReason.Killed);
        }
        string trap = Describe(e);
        Log.Trapped(_engine.Logger, Name, trap);
        return new CellResult(CellResult.TrapExitCode, CellExitReason.Trapped, trap);
    }

    /// <summary>
    /// The trap's message and its wasm backtrace, innermost frame first. Wasmtime's message carries the
    /// backtrace already (at most 20 frames, with source lines under --wasm-debug); we add it when it does not.
    /// </summary>
    private static string Describe(Exception e)
    {
        string message = e.Message.TrimEnd();
        IReadOnlyList<TrapFrame>? frames = (e as WasmtimeException)?.Frames;
        if (message.Contains("wasm backtrace", StringComparison.Ordinal) || frames is not { Count: > 0 })
        {
            return message;
        }
        var text = new StringBuilder(message).Append("\nwasm backtrace:");
        for (int i = 0; i < Math.Min(frames.Count, 20); i++)
        {
            TrapFrame f = frames[i];
            text.Append($"\n  {i,4}: 0x{f.ModuleOffset:x} - {f.ModuleName ?? "<module>"}!{f.FunctionName ?? $"<func at 0x{f.FunctionOffset:x}>"}");
        }
        return text.ToString();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
