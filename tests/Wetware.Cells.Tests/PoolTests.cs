using System.IO.Pipelines;
using System.Text;

namespace Wetware.Cells.Tests;

/// <summary>
/// The pool of instance slots (<see cref="CellEngineOptions.PooledCells"/>): most cells start in a slot; cells
/// beyond the slots and modules outside the pool's limits run with memory of their own, never refused; a slot
/// comes back to the next cell zeroed, whatever ended the last one.
/// </summary>
public sealed class PoolTests
{
    private static byte[] Wat(string text) => Wasmtime.Module.ConvertText(text);

    private static CellEngine NewEngine(int pooledCells, ListLogger? logger = null) =>
        new(new CellEngineOptions { Cache = new ModuleCache(Guests.CacheDirectory), PooledCells = pooledCells }, logger);

    [Fact]
    public async Task CellsBeyondThePoolRunWithMemoryOfTheirOwn()
    {
        var logger = new ListLogger();
        using CellEngine engine = NewEngine(pooledCells: 2, logger);
        var stdins = new List<Pipe>();
        var stdouts = new List<Pipe>();
        var cells = new List<Cell>();
        for (int i = 0; i < 4; i++)
        {
            var stdin = new Pipe();
            var stdout = new Pipe();
            cells.Add(await engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat"], Stdin = stdin.Reader, Stdout = stdout.Writer }));
            stdins.Add(stdin);
            stdouts.Add(stdout);
        }

        for (int i = 0; i < 4; i++)
        {
            await stdins[i].Writer.WriteAsync(Encoding.UTF8.GetBytes($"cell {i}\n"));
            stdins[i].Writer.Complete();
            Assert.Equal(0, (await cells[i].Completion.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
            stdouts[i].Writer.Complete();
            Assert.Equal($"cell {i}\n", Encoding.UTF8.GetString(await PipeText.ReadToEndAsync(stdouts[i].Reader)));
        }
        Assert.Equal(2, engine.PooledStarts);
        Assert.Equal(2, engine.UnpooledStarts);
        Assert.Single(logger.Entries, l => l.Message.Contains("all 2 pooled cell slots are in use", StringComparison.Ordinal));

        // The slots are free again.
        Assert.Equal(0, (await GuestRun.RunAsync(engine, "hello")).ExitCode);
        Assert.Equal(3, engine.PooledStarts);
    }

    [Theory]
    [InlineData("(table 1 funcref) (table 1 funcref)")]
    [InlineData("(table 30000 funcref)")]
    public async Task AModuleOutsideThePoolsLimitsRunsWithMemoryOfItsOwn(string tables)
    {
        byte[] wasm = Wat($$"""
            (module
              (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              {{tables}}
              (memory (export "memory") 1)
              (func (export "_start") (call $exit (i32.const 5))))
            """);
        string cache = Path.Combine(Path.GetTempPath(), "ww-pool-" + Guid.NewGuid().ToString("N"));
        try
        {
            for (int run = 0; run < 2; run++)
            {
                // Compiled by the first engine, loaded from the disk cache by the second.
                using var engine = new CellEngine(new CellEngineOptions { Cache = new ModuleCache(cache) });

                Assert.Equal(5, (await engine.RunAsync(wasm, new CellOptions())).ExitCode);
                Assert.Equal(5, (await engine.RunAsync(wasm, new CellOptions())).ExitCode);
                Assert.Equal((0, 2), (engine.PooledStarts, engine.UnpooledStarts));
                Assert.Equal(run == 0 ? (1, 0) : (0, 1), (engine.Compilations, engine.DiskCacheHits));
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void APoolLargerThanTheAddressSpaceAllowsIsCutToWhatFits()
    {
        // Wasmtime would abort the process on a pool it cannot reserve (as under ulimit -v).
        Assert.Equal(CellEngineOptions.DefaultPooledCells, WasmRuntime.AffordableSlots(CellEngineOptions.DefaultPooledCells));

        int cut = WasmRuntime.AffordableSlots(1 << 20); // 4 PiB: beyond any 64-bit address space in use

        Assert.InRange(cut, 1, (1 << 20) - 1);
    }

    [Fact]
    public async Task WithoutAPoolEveryCellHasMemoryOfItsOwn()
    {
        using CellEngine engine = NewEngine(pooledCells: 0);

        Assert.Equal(0, (await GuestRun.RunAsync(engine, "hello")).ExitCode);
        Assert.Equal(0, (await GuestRun.RunAsync(engine, "hello")).ExitCode);

        Assert.Equal(0, engine.PooledStarts);
        Assert.Equal(2, engine.UnpooledStarts);
    }

    [Fact]
    public async Task ASlotComesBackZeroedAfterExitTrapOrKill()
    {
        // Reads two words (one within the memory kept resident between cells, one far beyond it) and exits 1
        // if either is not zero; then writes both. With an argument it then traps ("trap": argv takes 10 bytes)
        // or loops forever (any other).
        byte[] wasm = Wat("""
            (module
              (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
              (memory (export "memory") 1)
              (func (export "_start")
                (drop (memory.grow (i32.const 63)))
                (if (i32.or (i32.load (i32.const 100000)) (i32.load (i32.const 3145728)))
                  (then (call $exit (i32.const 1))))
                (i32.store (i32.const 100000) (i32.const 0xdeadbeef))
                (i32.store (i32.const 3145728) (i32.const 0xdeadbeef))
                (drop (call $sizes (i32.const 0) (i32.const 4)))
                (if (i32.eq (i32.load (i32.const 0)) (i32.const 2)) (then
                  (if (i32.eq (i32.load (i32.const 4)) (i32.const 10)) (then unreachable))
                  (loop $forever (br $forever))))
                (call $exit (i32.const 0))))
            """);
        using CellEngine engine = NewEngine(pooledCells: 1);

        Assert.Equal(0, (await engine.RunAsync(wasm, new CellOptions { Args = ["wasm"] })).ExitCode);
        Assert.Equal(0, (await engine.RunAsync(wasm, new CellOptions { Args = ["wasm"] })).ExitCode);
        Assert.Equal(134, (await engine.RunAsync(wasm, new CellOptions { Args = ["wasm", "trap"] })).ExitCode);
        Assert.Equal(0, (await engine.RunAsync(wasm, new CellOptions { Args = ["wasm"] })).ExitCode);
        Cell spinning = await engine.StartAsync(wasm, new CellOptions { Args = ["wasm", "spinning"] });
        await Task.Delay(20);
        spinning.Kill();
        Assert.Equal(137, (await spinning.Completion).ExitCode);
        Assert.Equal(0, (await engine.RunAsync(wasm, new CellOptions { Args = ["wasm"] })).ExitCode);

        Assert.Equal((6, 0), (engine.PooledStarts, engine.UnpooledStarts));
    }
}
