using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Wetware.Cells.Tests;

/// <summary>A finished guest: its result and everything it wrote to stdout and stderr.</summary>
internal sealed record GuestRun(CellResult Result, string Stdout, string Stderr)
{
    public int ExitCode => Result.ExitCode;

    /// <summary>Stdout's "key=value" lines as a dictionary.</summary>
    public Dictionary<string, string> Values()
    {
        var values = new Dictionary<string, string>();
        foreach (string line in Stdout.Split('\n'))
        {
            int eq = line.IndexOf('=');
            if (eq > 0)
            {
                values[line[..eq]] = line[(eq + 1)..];
            }
        }
        return values;
    }

    /// <summary>Runs a guest to its end with stdout and stderr collected in memory and, when given, the stdin text.</summary>
    public static async Task<GuestRun> RunAsync(CellEngine engine, string guest, CellOptions? options = null, string? stdin = null)
    {
        options ??= new CellOptions();
        if (options.Stdout is not null || options.Stderr is not null)
        {
            throw new ArgumentException("GuestRun collects stdout and stderr itself; start the cell directly to give your own");
        }
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        PipeReader? input = options.Stdin;
        if (stdin is not null)
        {
            var pipe = new Pipe();
            await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(stdin));
            pipe.Writer.Complete();
            input = pipe.Reader;
        }
        CellResult result = await engine.RunAsync(Guests.Bytes(guest), new CellOptions
        {
            Name = options.Name,
            Args = options.Args,
            Env = options.Env,
            Image = options.Image,
            MemoryLimitBytes = options.MemoryLimitBytes,
            Timeout = options.Timeout,
            Terminal = options.Terminal,
            Stdin = input,
            Stdout = PipeWriter.Create(stdout),
            Stderr = PipeWriter.Create(stderr),
        }).WaitAsync(TimeSpan.FromSeconds(60));
        return new GuestRun(result, Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()));
    }
}

/// <summary>An engine per test class, its modules cached in the test run's own directory.</summary>
public sealed class EngineFixture : IDisposable
{
    public EngineFixture()
    {
        Engine = new CellEngine(new CellEngineOptions { Cache = new ModuleCache(Guests.CacheDirectory) }, Logger);
    }

    internal CellEngine Engine { get; }

    internal ListLogger Logger { get; } = new();

    public void Dispose() => Engine.Dispose();
}

/// <summary>Keeps every log line, for tests that check what the host reports.</summary>
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

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, formatter(state, exception)));
        }
    }
}
