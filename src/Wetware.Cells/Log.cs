using Microsoft.Extensions.Logging;

namespace Wetware.Cells;

internal static partial class Log
{
    [LoggerMessage(Level = LogLevel.Error, Message = "cell {Cell} trapped (exit code 134): {Trap}")]
    public static partial void Trapped(ILogger logger, string cell, string trap);

    [LoggerMessage(Level = LogLevel.Warning, Message = "limit reached: {Limit} is {Value}, above {Maximum}")]
    public static partial void LimitReached(ILogger logger, string limit, long maximum, long value);

    [LoggerMessage(Level = LogLevel.Debug, Message = "cell {Cell} ended: exit code {ExitCode} ({Reason})")]
    public static partial void Ended(ILogger logger, string cell, int exitCode, CellExitReason reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "module {Hash} compiled in {Milliseconds:F1} ms")]
    public static partial void Compiled(ILogger logger, string hash, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "module cache entry {Path} is corrupt or stale ({Reason}); recompiling")]
    public static partial void CacheEntryRejected(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "all {Slots} pooled cell slots are in use: more cells at once map memory of their own (slower to start)")]
    public static partial void PoolFull(ILogger logger, int slots);

    [LoggerMessage(Level = LogLevel.Warning, Message = "address space for {Wanted} pooled cell slots cannot be reserved (ulimit -v?): using {Slots}")]
    public static partial void PoolReduced(ILogger logger, int wanted, int slots);

    [LoggerMessage(Level = LogLevel.Warning, Message = "module cache: cannot write {Path}: {Reason}")]
    public static partial void CacheWriteFailed(ILogger logger, string path, string reason);
}
