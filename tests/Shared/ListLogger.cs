using Microsoft.Extensions.Logging;

namespace Wetware.Tests.Shared;

/// <summary>Keeps every log line, for tests that check what was logged (a warning, a disconnect reason, each change once). Linked into the test projects that use it.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, formatter(state, exception)));
        }
    }

    /// <summary>Waits until a line at warning level or above contains <paramref name="text"/>.</summary>
    public async Task<string> WaitForWarningAsync(string text, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            foreach ((LogLevel level, string message) in Entries)
            {
                if (level >= LogLevel.Warning && message.Contains(text, StringComparison.Ordinal))
                {
                    return message;
                }
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"no warning containing '{text}'; logged: {string.Join(" | ", Entries.Select(e => e.Message))}");
    }
}
