namespace Wetware.Cells;

/// <summary>How a guest ended.</summary>
/// <param name="ExitCode">
/// <c>proc_exit</c>'s code, 0 when <c>_start</c> returns, 134 after a trap, 137 when killed (guest-abi.md).
/// </param>
/// <param name="Reason">Why it ended.</param>
/// <param name="Trap">For a trap: the trap's message and the guest's wasm backtrace, as logged.</param>
public sealed record CellResult(int ExitCode, CellExitReason Reason, string? Trap = null)
{
    /// <summary>The exit code of a trapped guest.</summary>
    public const int TrapExitCode = 134;

    /// <summary>The exit code of a killed guest.</summary>
    public const int KilledExitCode = 137;
}

/// <summary>Why a guest ended.</summary>
public enum CellExitReason
{
    /// <summary>It called <c>proc_exit</c> or returned from <c>_start</c>.</summary>
    Exited,

    /// <summary>It trapped (unreachable, out-of-bounds access, stack overflow, ...).</summary>
    Trapped,

    /// <summary><see cref="Cell.Kill"/>, a canceled run, or the engine shutting down.</summary>
    Killed,

    /// <summary><see cref="CellOptions.Timeout"/> passed.</summary>
    TimedOut,
}

/// <summary>A guest could not be started: its module is too large, invalid, or asks for what we do not give.</summary>
public sealed class CellStartException(string message, Exception? inner = null) : Exception(message, inner);
