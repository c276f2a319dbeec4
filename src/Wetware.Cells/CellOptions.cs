using System.IO.Pipelines;

namespace Wetware.Cells;

/// <summary>What one guest sees: its argv, environment, standard streams and image root, and its limits.</summary>
public sealed class CellOptions
{
    /// <summary>The default cap on a guest's linear memory (shared/spec/README.md).</summary>
    public const long DefaultMemoryLimitBytes = 512L * 1024 * 1024;

    /// <summary>A name for logs and the cell's thread.</summary>
    public string Name { get; init; } = "wasm";

    /// <summary>The guest's argv, argv[0] first (pid0: <c>/boot/main.wasm</c>; a child: <c>wasm</c>).</summary>
    public IReadOnlyList<string> Args { get; init; } = ["wasm"];

    /// <summary>The guest's whole environment: nothing of the host's leaks in.</summary>
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();

    /// <summary>fd 0. Null: end of file at once. The cell reads it but never completes it.</summary>
    public PipeReader? Stdin { get; init; }

    /// <summary>fd 1. Null: discarded. Writes block while it pushes back. The cell never completes it.</summary>
    public PipeWriter? Stdout { get; init; }

    /// <summary>fd 2. Null: discarded. As <see cref="Stdout"/>.</summary>
    public PipeWriter? Stderr { get; init; }

    /// <summary>
    /// fds 0 to 2 report as a terminal (a character device without seek), so wasi-libc's <c>isatty</c> says yes
    /// and stdout is line-buffered. Otherwise they report as an unknown file type (pipes).
    /// </summary>
    public bool Terminal { get; init; }

    /// <summary>fd 3, the guest's read-only <c>/</c>. Null: no fd 3 (children have no file system).</summary>
    public IImageFileSystem? Image { get; init; }

    /// <summary>The cap on the guest's linear memory; past it <c>memory.grow</c> gives -1 (ENOMEM in C).</summary>
    public long MemoryLimitBytes { get; init; } = DefaultMemoryLimitBytes;

    /// <summary>Kill the guest (exit code 137) if it runs longer than this. Null: no limit.</summary>
    public TimeSpan? Timeout { get; init; }
}
