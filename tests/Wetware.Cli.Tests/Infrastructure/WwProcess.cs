using System.Diagnostics;
using System.Text;

namespace Wetware.Cli.Tests.Infrastructure;

/// <summary>
/// The built <c>ww</c> binary as a child process, either behind a pseudo-terminal (util-linux
/// <c>script -qfec</c>: the host sees a terminal, so pid0 gets <c>WW_TTY=1</c>) or behind plain pipes.
/// Output is collected as it comes; every wait has a timeout and fails with what was seen so far.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class WwProcess : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly Lock _lock = new();
    private readonly Task _pumps;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WwProcess(ProcessStartInfo psi)
    {
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        psi.Environment["WW_LOG"] = "warn";
        psi.Environment.Remove("WW_IDENTITY");
        _process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + psi.FileName);
        _pumps = Task.WhenAll(Pump(_process.StandardOutput.BaseStream, _output), Pump(_process.StandardError.BaseStream, _error));
    }

    /// <summary><c>ww ARGS</c> in a pseudo-terminal: stdout and stderr both arrive on <see cref="Output"/>.</summary>
    public static WwProcess InTerminal(params string[] args)
    {
        string command = string.Join(' ', new[] { BuiltGuests.WwBinary }.Concat(args).Select(Quote));
        var psi = new ProcessStartInfo("script", ["-qfec", command, "/dev/null"]);
        psi.Environment["TERM"] = "dumb";
        return new WwProcess(psi);
    }

    /// <summary><c>ww ARGS</c> with its standard streams on pipes (no terminal: pid0 runs in daemon mode).</summary>
    public static WwProcess WithPipes(params string[] args) => new(new ProcessStartInfo(BuiltGuests.WwBinary, args));

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Everything on stdout so far, line ends as <c>\n</c> (a terminal writes <c>\r\n</c>).</summary>
    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
            }
        }
    }

    public string Error
    {
        get
        {
            lock (_lock)
            {
                return _error.ToString();
            }
        }
    }

    private async Task Pump(Stream from, StringBuilder into)
    {
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[4096];
        var chars = new char[4096 + 8];
        int n;
        while ((n = await from.ReadAsync(bytes).ConfigureAwait(false)) > 0)
        {
            int c = decoder.GetChars(bytes, 0, n, chars, 0);
            TaskCompletionSource changed;
            lock (_lock)
            {
                into.Append(chars, 0, c);
                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            changed.TrySetResult();
        }
        lock (_lock)
        {
            _changed.TrySetResult();
        }
    }

    /// <summary>Waits until <paramref name="seen"/> holds for the collected text (stdout, or stderr).</summary>
    public async Task<string> WaitUntilAsync(Func<string, bool> seen, string what, bool stderr = false)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            Task changed;
            string text;
            lock (_lock)
            {
                changed = _changed.Task;
                text = stderr ? _error.ToString() : _output.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
            }
            if (seen(text))
            {
                return text;
            }
            if (_pumps.IsCompleted && _process.HasExited)
            {
                throw new Xunit.Sdk.XunitException($"ww ended (exit code {_process.ExitCode}) before {what}.\nstdout:\n{Output}\nstderr:\n{Error}");
            }
            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"timed out waiting for {what}.\nstdout:\n{Output}\nstderr:\n{Error}");
            }
        }
    }

    public Task<string> WaitForAsync(string text, int from = 0, bool stderr = false) =>
        WaitUntilAsync(t => t.IndexOf(text, Math.Min(from, t.Length), StringComparison.Ordinal) >= 0, $"'{text}'", stderr);

    public async Task SendAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    public void CloseInput() => _process.StandardInput.Close();

    public async Task<int> ExitAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            await _pumps.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"ww did not exit.\nstdout:\n{Output}\nstderr:\n{Error}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
