using System.IO.Pipelines;
using System.Text;
using Wetware.Ipfs;

namespace Wetware.Cli.Tests;

/// <summary>
/// Images for the --stem tests: tests/guests/sdk/stemprobe.c as boot/main.wasm and <c>/etc/marker</c>, added to
/// IPFS unpinned (the host pins the heads it adopts), or only hashed, so the node has no copy.
/// </summary>
internal static class StemProbe
{
    public static async Task<Cid> ImageAsync(IpfsClient client, BuiltGuests guests, string scratch, string marker, bool store = true)
    {
        string dir = Path.Combine(scratch, marker);
        Directory.CreateDirectory(Path.Combine(dir, "boot"));
        Directory.CreateDirectory(Path.Combine(dir, "etc"));
        File.Copy(Path.Combine(guests.SdkTests, "stemprobe.wasm"), Path.Combine(dir, "boot", "main.wasm"), overwrite: true);
        File.WriteAllText(Path.Combine(dir, "etc", "marker"), marker + "\n");
        return await client.AddDirectoryAsync(dir, new IpfsAddOptions { Pin = false, OnlyHash = !store });
    }
}

/// <summary>What a running <c>ww run</c> writes to its stdout, read as it comes; a wait fails with all of it (and <paramref name="diagnostics"/>) when the run ends or the time is up first.</summary>
internal sealed class RunOutput(PipeReader stdout, Task<int> run, Func<string> diagnostics)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly StreamReader _reader = new(stdout.AsStream());
    private readonly StringBuilder _output = new();

    public string Text => _output.ToString();

    public Task UntilAsync(string text) => UntilAsync(o => o.Contains(text, StringComparison.Ordinal), $"'{text}'");

    public async Task UntilAsync(Func<string, bool> done, string what)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var buffer = new char[4096];
        while (!done(_output.ToString()))
        {
            Task<int> read = _reader.ReadAsync(buffer, timeout.Token).AsTask();
            if (await Task.WhenAny(read, run) == run && !read.IsCompleted)
            {
                Assert.Fail($"ww run ended ({await run}) before {what}:\n{_output}\n{diagnostics()}");
            }
            int n;
            try
            {
                n = await read;
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"no {what} within {Timeout.TotalSeconds} s:\n{_output}\n{diagnostics()}");
                throw;
            }
            Assert.True(n > 0, $"pid0's output ended before {what}:\n{_output}\n{diagnostics()}");
            _output.Append(buffer, 0, n);
        }
    }
}
