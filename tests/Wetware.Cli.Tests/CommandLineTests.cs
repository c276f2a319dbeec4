using Wetware.Cli;

namespace Wetware.Cli.Tests;

public class CommandLineTests
{
    private static async Task<(int Code, string Out, string Err)> Ww(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await WwCli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
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
    public async Task RunSaysWhatIsMissingAndFailsAsAHostFailure()
    {
        var (code, _, err) = await Ww("run", "--port", "0");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("cell runtime", err);
    }
}
