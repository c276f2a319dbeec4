using Wasmtime;

namespace Wetware.Cells;

/// <summary>
/// A module ready to instantiate: compiled for the pooled runtime when it fits the pool's limits, and for the
/// runtime without a pool when needed (a module outside the pool's limits, or a start while every slot is taken).
/// </summary>
internal sealed class LoadedModule
{
    private readonly object _gate = new();
    private Module? _unpooled;

    public LoadedModule(string hash, Module? pooled, Module? unpooled)
    {
        Hash = hash;
        Pooled = pooled;
        _unpooled = unpooled;
    }

    /// <summary>The SHA-256 of the module's bytes (the disk cache's key).</summary>
    public string Hash { get; }

    /// <summary>Null when the module does not fit the pool (more tables or memories, a larger table).</summary>
    public Module? Pooled { get; }

    /// <summary>For imports and exports: any of the compiled forms.</summary>
    public Module Any => Pooled ?? _unpooled!;

    /// <summary>The module compiled for <paramref name="runtime"/> (one without a pool), loaded from the pooled form the first time.</summary>
    public Module Unpooled(WasmRuntime runtime)
    {
        lock (_gate)
        {
            // Deserializing a module compiled under the same settings is a load, not a compilation.
            return _unpooled ??= Module.Deserialize(runtime.Engine, Hash[..16], Pooled!.Serialize());
        }
    }
}
