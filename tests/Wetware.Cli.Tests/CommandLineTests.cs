using Wetware.Cli;

namespace Wetware.Cli.Tests;

public class CommandLineTests
{
    private static async Task<(int Code, string Out, string Err)> Ww(params string[] args)
    {
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        int code = await WwCli.RunAsync(args, new WwIo(Stream.Null, stdout, stderr) { GetEnvironmentVariable = _ => null });
        return (code, System.Text.Encoding.UTF8.GetString(stdout.ToArray()), System.Text.Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [Fact]
    public async Task VersionPrintsTheAssemblyVersion()
    {
        var (code, output, _) = await Ww("--version");
        Assert.Equal(0, code);
        Assert.Equal(WwCli.Version, output.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+", output.Trim());
    }

    [Fact]
    public async Task HelpListsTheRunCommand()
    {
        var (code, output, _) = await Ww("--help");
        Assert.Equal(0, code);
        Assert.Contains("run", output);
        Assert.Contains("Wetware", output);
    }

    [Fact]
    public async Task RunHelpDocumentsEveryOptionOfTheSpec()
    {
        var (code, output, _) = await Ww("run", "--help");
        Assert.Equal(0, code);
        foreach (string option in new[] { "--port", "--identity", "--stem", "--rpc-url", "--ws-url", "--confirmation-depth", "--ipfs-url", "--memory-limit", "--wasm-debug" })
        {
            Assert.Contains(option, output);
        }
        Assert.Contains("2025", output);
        Assert.Contains("512", output);
    }

    [Theory]
    [InlineData("--port", "70000", "--port")]
    [InlineData("--port", "nope", "nope")]
    [InlineData("--stem", "0x123", "--stem")]
    [InlineData("--rpc-url", "ftp://x", "--rpc-url")]
    [InlineData("--memory-limit", "0", "--memory-limit")]
    [InlineData("--confirmation-depth", "-1", "--confirmation-depth")]
    public async Task BadOptionIsAUsageErrorNamingItWithTheHelpHint(string option, string value, string named)
    {
        var (code, _, err) = await Ww("run", option, value);
        Assert.Equal(2, code);
        string[] lines = err.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains(named, lines[0]);
        Assert.Equal("see 'ww run --help'", lines[1].Trim());
    }

    [Fact]
    public async Task UnknownCommandIsAUsageError()
    {
        var (code, _, err) = await Ww("frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("see 'ww --help'", err);
    }

    [Fact]
    public async Task ABadWwLogIsAUsageError()
    {
        var stderr = new MemoryStream();
        int code = await WwCli.RunAsync(["run"], new WwIo(Stream.Null, Stream.Null, stderr) { GetEnvironmentVariable = n => n == "WW_LOG" ? "loud" : null });
        Assert.Equal(2, code);
        Assert.Contains("WW_LOG='loud'", System.Text.Encoding.UTF8.GetString(stderr.ToArray()));
    }
}
