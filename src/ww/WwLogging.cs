using Microsoft.Extensions.Logging;

namespace Wetware.Cli;

/// <summary>
/// Logs to stderr, one line each, at the level <c>WW_LOG</c> names (shared/spec/cli.md): <c>error</c>,
/// <c>warn</c>, <c>info</c> (default), <c>debug</c>, <c>trace</c>, or <c>Category=level,...</c> (a bare level in
/// the list sets the default; the longest matching category prefix wins).
/// </summary>
internal static class WwLogging
{
    public static ILoggerFactory Create(string? spec, TextWriter stderr)
    {
        var (defaultLevel, rules) = Parse(spec);
        return LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(LogLevel.Trace);
            b.AddProvider(new Provider(stderr, category =>
            {
                string? best = null;
                LogLevel level = defaultLevel;
                foreach (var (prefix, l) in rules)
                {
                    if (category.StartsWith(prefix, StringComparison.Ordinal) && (best is null || prefix.Length > best.Length))
                    {
                        best = prefix;
                        level = l;
                    }
                }
                return level;
            }));
        });
    }

    /// <summary>Parses WW_LOG; a bad value raises <see cref="FormatException"/> naming it.</summary>
    public static (LogLevel Default, List<(string Prefix, LogLevel Level)> Rules) Parse(string? spec)
    {
        LogLevel defaultLevel = LogLevel.Information;
        var rules = new List<(string, LogLevel)>();
        if (string.IsNullOrWhiteSpace(spec))
        {
            return (defaultLevel, rules);
        }
        foreach (string part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq < 0)
            {
                defaultLevel = Level(part, spec);
            }
            else
            {
                rules.Add((part[..eq].Trim(), Level(part[(eq + 1)..].Trim(), spec)));
            }
        }
        return (defaultLevel, rules);
    }

    private static LogLevel Level(string name, string spec) => name.ToLowerInvariant() switch
    {
        "error" => LogLevel.Error,
        "warn" or "warning" => LogLevel.Warning,
        "info" => LogLevel.Information,
        "debug" => LogLevel.Debug,
        "trace" => LogLevel.Trace,
        "off" or "none" => LogLevel.None,
        _ => throw new FormatException($"WW_LOG='{spec}': unknown level '{name}' (use error, warn, info, debug, trace, or Category=level,...)"),
    };

    private sealed class Provider(TextWriter output, Func<string, LogLevel> levelOf) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(output, categoryName, levelOf(categoryName));

        public void Dispose()
        {
        }
    }

    private sealed class Logger(TextWriter output, string category, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            string level = logLevel switch
            {
                LogLevel.Trace => "trace",
                LogLevel.Debug => "debug",
                LogLevel.Information => "info",
                LogLevel.Warning => "warn",
                LogLevel.Error => "error",
                _ => "critical",
            };
            string line = $"{level}: {category}: {formatter(state, exception)}{(exception is null ? "" : " (" + exception.GetType().Name + ": " + exception.Message + ")")}";
            lock (output)
            {
                output.WriteLine(line);
            }
        }
    }
}
