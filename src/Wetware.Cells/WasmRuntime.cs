using System.Runtime.InteropServices;
using Wasmtime;
using Wetware.Cells.Wasi;

namespace Wetware.Cells;

/// <summary>
/// One Wasmtime engine and the linker with our WASI on it. A <see cref="CellEngine"/> has up to two: one
/// whose instances live in preallocated pool slots (most cells), and one that maps memory per instance (cells
/// beyond the pool's slots, modules outside its limits). Their settings differ only in allocation, so a
/// module compiled by one loads in the other.
/// </summary>
internal sealed partial class WasmRuntime : IDisposable
{
    /// <summary>
    /// A slot's memory is reset for the next cell by writing zeros over up to this many bytes (all of a small
    /// guest's memory; a hello has 128 KiB) and by madvise beyond. Each madvise or munmap costs a TLB shootdown
    /// across the CPUs this process runs on, 10 to 20 us per start in a 2-core VM: as much as the rest of a
    /// hello guest's run (bench/cells.sh: 64 KiB here gave 36 us per hello, 256 KiB 18 us). Idle slots keep
    /// this much resident: 32 MiB for 128 slots.
    /// </summary>
    internal const int KeepResidentBytes = 256 * 1024;

    /// <summary>The largest wasm32 memory: every cell's memory limit fits a slot.</summary>
    private const ulong SlotMemoryBytes = 4UL << 30;

    /// <summary>What a pool reserves per slot beyond its memory: guard, table and instance (measured: ~4.05 GiB a slot).</summary>
    private const ulong SlotOverheadBytes = 64UL << 20;

    private WasmRuntime(Engine engine, bool pooled)
    {
        Engine = engine;
        Pooled = pooled;
        Linker = new Linker(engine);
        WasiPreview1.Define(Linker);
    }

    public Engine Engine { get; }

    public Linker Linker { get; }

    /// <summary>Instances take a slot of the pooling allocator.</summary>
    public bool Pooled { get; }

    /// <param name="slots">Pool slots (concurrent instances); 0 for memory mapped per instance.</param>
    public static WasmRuntime Create(bool wasmDebug, int slots)
    {
        using var config = new Config();
        config.WithEpochInterruption(true);
        config.WithDebugInfo(wasmDebug);
        if (slots > 0)
        {
            using var pool = new PoolingAllocationConfig();
            pool.WithMaxCoreInstances((uint)slots);
            pool.WithMaxMemories((uint)slots);
            pool.WithMaxTables((uint)slots);
            pool.WithMaxMemorySize(unchecked((nuint)SlotMemoryBytes));
            pool.WithLinearMemoryKeepResidentBytes(KeepResidentBytes);
            pool.WithTableKeepResidentBytes(KeepResidentBytes);
            config.WithPoolingAllocationStrategy(pool);
        }
        return new WasmRuntime(new Engine(config), slots > 0);
    }

    /// <summary>
    /// The most slots, up to <paramref name="slots"/>, whose address space can be reserved now with half as much
    /// again to spare. Wasmtime aborts the whole process (a panic in its C API) when it cannot reserve its pool,
    /// as under <c>ulimit -v</c>; so the same reservation is tried here first, halving the slots until it fits.
    /// </summary>
    public static int AffordableSlots(int slots)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return slots;
        }
        while (slots > 0 && !CanReserve((ulong)(slots + 1) * (SlotMemoryBytes + SlotOverheadBytes) / 2 * 3))
        {
            slots /= 2;
        }
        return slots;
    }

    /// <summary>Whether an inaccessible, unbacked mapping of <paramref name="bytes"/> can be made (and unmade) now.</summary>
    private static bool CanReserve(ulong bytes)
    {
        const int ProtNone = 0;
        const int MapPrivate = 0x02;
        int flags = OperatingSystem.IsLinux() ? MapPrivate | 0x20 | 0x4000 : MapPrivate | 0x1000; // MAP_ANONYMOUS, MAP_NORESERVE
        nint at = Mmap(0, (nuint)bytes, ProtNone, flags, -1, 0);
        if (at == -1)
        {
            return false;
        }
        _ = Munmap(at, (nuint)bytes);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint address, nuint length);

    public void Dispose()
    {
        Linker.Dispose();
        Engine.Dispose();
    }
}
