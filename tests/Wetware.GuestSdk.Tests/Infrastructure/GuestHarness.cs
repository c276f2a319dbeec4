using System.IO.Pipelines;
using System.Text;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Wetware.Capnp.Rpc;
using Wetware.Cells;

namespace Wetware.GuestSdk.Tests;

/// <summary>
/// An engine per test class, its modules cached in the test run's own directory. What the engine logs
/// (a trap's backtrace) is kept for failure messages. WW_GUEST_DEBUG=1 builds the guests with DWARF and
/// turns on Wasmtime's debug info, so a trap's backtrace names source lines.
/// </summary>
public sealed class EngineFixture : IDisposable
{
    public EngineFixture()
    {
        Engine = new CellEngine(new CellEngineOptions { Cache = new ModuleCache(Sdk.CacheDirectory), WasmDebug = Sdk.Debug }, Log);
    }

    internal CellEngine Engine { get; }

    internal LogCollector Log { get; } = new();

    public void Dispose() => Engine.Dispose();
}

/// <summary>Keeps what the engine logs, for failure messages.</summary>
internal sealed class LogCollector : ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public string Text => string.Join('\n', _lines);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            _lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
        }
    }
}

/// <summary>
/// A test guest in a cell with, unless asked otherwise, a C# RPC connection on its fd 4 whose bootstrap
/// is a <see cref="TestBootstrap"/>. Stdout and stderr are collected; stdin is given bytes (or none).
/// </summary>
internal sealed class GuestHarness : IAsyncDisposable
{
    private readonly StdoutStream _stdout;
    private readonly MemoryStream _stderr;

    private GuestHarness(Cell cell, RpcConnection? connection, TestBootstrap bootstrap, StdoutStream stdout, MemoryStream stderr)
    {
        Cell = cell;
        Connection = connection;
        Bootstrap = bootstrap;
        _stdout = stdout;
        _stderr = stderr;
    }

    public Cell Cell { get; }

    public RpcConnection? Connection { get; }

    public TestBootstrap Bootstrap { get; }

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <param name="stdin">What the guest reads on fd 0 (then end of file).</param>
    /// <param name="stdinReader">Or a reader the test feeds as it goes.</param>
    public static Task<GuestHarness> StartAsync(EngineFixture fixture, string guest, string[] args, bool connect = true, byte[]? stdin = null,
        IImageFileSystem? image = null, PipeReader? stdinReader = null) =>
        StartAsync(fixture.Engine, guest, args, connect, stdin, fixture.Log, image, stdinReader);

    public static async Task<GuestHarness> StartAsync(CellEngine engine, string guest, string[] args, bool connect = true, byte[]? stdin = null,
        LogCollector? log = null, IImageFileSystem? image = null, PipeReader? stdinReader = null)
    {
        var bootstrap = new TestBootstrap(new TestMembrane(), new HostTester());
        var input = new Pipe();
        if (stdin is not null)
        {
            await input.Writer.WriteAsync(stdin);
        }
        input.Writer.Complete();
        stdinReader ??= input.Reader;
        var stdout = new StdoutStream();
        var stderr = new MemoryStream();
        Cell cell = await engine.StartAsync(Sdk.Guest(guest), new CellOptions
        {
            Args = [guest, .. args],
            // WW_RPC_TRACE=1 in the test's environment traces the guest's messages on its stderr.
            Env = Environment.GetEnvironmentVariable("WW_RPC_TRACE") is { Length: > 0 } trace
                ? new Dictionary<string, string> { ["WW_RPC_TRACE"] = trace }
                : new Dictionary<string, string>(),
            Stdin = stdinReader,
            Image = image,
            Stdout = PipeWriter.Create(stdout),
            Stderr = PipeWriter.Create(stderr),
        });
        RpcConnection? connection = null;
        if (connect)
        {
            connection = new RpcConnection(cell.Rpc, Capability.FromServer(bootstrap));
            connection.Start();
        }
        return new GuestHarness(cell, connection, bootstrap, stdout, stderr) { _log = log };
    }

    private LogCollector? _log;

    /// <summary>
    /// Waits until the guest has printed a line that starts with <paramref name="start"/>: for a test that
    /// must act only once the guest got somewhere, whatever the time it took.
    /// </summary>
    public async Task StdoutLineAsync(string start)
    {
        try
        {
            await _stdout.LineAsync(start).WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"the guest did not print a line starting with '{start}' within {Timeout}; it printed:\n{Encoding.UTF8.GetString(_stdout.ToArray())}");
        }
    }

    /// <summary>Waits for the guest to exit (the connection stays as it is).</summary>
    public async Task<GuestResult> CompletionAsync()
    {
        CellResult result = await Cell.Completion.WaitAsync(Timeout);
        string stderr = Encoding.UTF8.GetString(_stderr.ToArray());
        if (result.ExitCode == 134 && _log is not null)
        {
            stderr += "\nengine log:\n" + _log.Text;
        }
        byte[] stdout = _stdout.ToArray();
        return new GuestResult(result.ExitCode, Encoding.UTF8.GetString(stdout), stderr) { StdoutBytes = stdout };
    }

    /// <summary>Closes the host's end of the connection (the guest reads end of file), then waits for the guest.</summary>
    public async Task<GuestResult> CloseAsync()
    {
        if (Connection is not null)
        {
            await Connection.DisposeAsync();
        }
        return await CompletionAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (Connection is not null)
        {
            await Connection.DisposeAsync();
        }
        await Cell.DisposeAsync();
    }
}

/// <summary>A guest's stdout, collected; a test can wait for a line to appear.</summary>
internal sealed class StdoutStream : MemoryStream
{
    private readonly List<(string Start, TaskCompletionSource Seen)> _waiting = [];

    /// <summary>Completes once a whole line (ended by a newline) starting with <paramref name="start"/> was written.</summary>
    public Task LineAsync(string start)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiting)
        {
            _waiting.Add((start, seen));
        }
        Check();
        return seen.Task;
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        base.Write(buffer, offset, count);
        Check();
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        base.Write(buffer);
        Check();
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer, offset, count);
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    private void Check()
    {
        lock (_waiting)
        {
            if (_waiting.Count == 0)
            {
                return;
            }
            string[] lines = Encoding.UTF8.GetString(ToArray()).Split('\n')[..^1]; // the last is not ended yet
            _waiting.RemoveAll(w =>
            {
                if (!lines.Any(l => l.StartsWith(w.Start, StringComparison.Ordinal)))
                {
                    return false;
                }
                w.Seen.TrySetResult();
                return true;
            });
        }
    }
}

/// <summary>How a guest ended, and what it printed.</summary>
internal sealed record GuestResult(int ExitCode, string Stdout, string Stderr)
{
    public byte[] StdoutBytes { get; init; } = [];

    /// <summary>Stdout's name=value pairs (several per line, separated by spaces, are split too).</summary>
    public Dictionary<string, string> Values()
    {
        var values = new Dictionary<string, string>();
        foreach (string line in Stdout.Split('\n'))
        {
            int eq = line.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }
            // "a=x b=y" lines: split at spaces that start a new name=.
            foreach (string part in SplitPairs(line))
            {
                int e = part.IndexOf('=');
                if (e > 0)
                {
                    values[part[..e]] = part[(e + 1)..];
                }
            }
        }
        return values;
    }

    private static IEnumerable<string> SplitPairs(string line)
    {
        int start = 0;
        for (int i = 1; i < line.Length; i++)
        {
            if (line[i] == ' ')
            {
                int next = line.IndexOf(' ', i + 1);
                string word = next < 0 ? line[(i + 1)..] : line[(i + 1)..next];
                int eq = word.IndexOf('=');
                if (eq > 0 && word[..eq].All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                {
                    yield return line[start..i];
                    start = i + 1;
                }
            }
        }
        yield return line[start..];
    }

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}
