using Wasmtime;

namespace Wetware.Cells.Bench;

/// <summary>
/// The reference: the same module run in this process by Wasmtime's own WASI (<see cref="WasiConfiguration"/>
/// and <see cref="Linker.DefineWasi"/>), compiled once; each start is a new store, instantiate, <c>_start</c>,
/// on the calling thread. The engine has Wasmtime's default settings (no epoch interruption, which our cells
/// need for kill), so the reference is the plain embedding a host would otherwise write. For context only, the
/// same with the pooling allocator set up as our cells' (Wetware.Cells' WasmRuntime: 128 slots of 4 GiB, 256 KiB
/// kept resident).
/// </summary>
internal sealed class BuiltinWasi : IDisposable
{
    private readonly Engine _engine;
    private readonly Linker _linker;
    private readonly Module _module;

    public BuiltinWasi(byte[] wasm, bool pooled = false)
    {
        using (var config = new Config())
        {
            if (pooled)
            {
                using var pool = new PoolingAllocationConfig();
                pool.WithMaxCoreInstances(128);
                pool.WithMaxMemories(128);
                pool.WithMaxTables(128);
                pool.WithMaxMemorySize(unchecked((nuint)(4UL << 30)));
                pool.WithLinearMemoryKeepResidentBytes(256 * 1024);
                pool.WithTableKeepResidentBytes(256 * 1024);
                config.WithPoolingAllocationStrategy(pool);
            }
            _engine = new Engine(config);
        }
        _linker = new Linker(_engine);
        _linker.DefineWasi();
        _module = Module.FromBytes(_engine, "hello", wasm);
    }

    /// <summary>One start to exit, stdout to <paramref name="stdoutPath"/>; returns the exit code.</summary>
    public int Run(string stdoutPath)
    {
        using var store = new Store(_engine);
        store.SetWasiConfiguration(new WasiConfiguration().WithArg("hello").WithStandardOutput(stdoutPath));
        Instance instance = _linker.Instantiate(store, _module);
        Action start = instance.GetAction("_start") ?? throw new InvalidOperationException("no _start");
        try
        {
            start();
            return 0;
        }
        catch (WasmtimeException e) when (e.ExitCode is int code)
        {
            return code;
        }
    }

    public void Dispose()
    {
        _module.Dispose();
        _linker.Dispose();
        _engine.Dispose();
    }
}
