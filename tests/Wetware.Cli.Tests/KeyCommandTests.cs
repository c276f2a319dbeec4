using System.Text;
using Wetware.Cli;

namespace Wetware.Cli.Tests;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KeyCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ww-keys-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Code, string Out, string Err)> Ww(Func<string, string?>? env, params string[] args)
    {
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        int code = await WwCli.RunAsync(args, new WwIo(Stream.Null, stdout, stderr) { GetEnvironmentVariable = env ?? (_ => null) });
        return (code, Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [Fact]
    public async Task KeygenPrintsTheSecretOnStdoutAndTheNamesOnStderr()
    {
        var (code, output, error) = await Ww(null, "keygen");
        Assert.Equal(0, code);
        string secret = output.Trim();
        Assert.Matches("^[1-9A-HJ-NP-Za-km-z]{43,44}$", secret);
        Assert.Matches(@"EVM address: 0x[0-9a-fA-F]{40}", error);
        Assert.Matches(@"Peer ID: 16Uiu2\w+", error);
        Assert.DoesNotContain(secret, error);

        // The printed secret is a key file `ww id` reads back to the same names.
        string file = Path.Combine(_dir, "printed.key");
        File.WriteAllText(file, secret + "\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var (idCode, idOut, _) = await Ww(null, "id", "--identity", file);
        Assert.Equal(0, idCode);
        foreach (string line in error.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.Contains(line.Trim(), idOut);
        }
    }

    [Fact]
    public async Task KeygenWritesAPrivateFileAndNeverOverwritesWithoutForce()
    {
        string file = Path.Combine(_dir, "node.key");
        var (code, output, error) = await Ww(null, "keygen", "--output", file);
        Assert.Equal(0, code);
        Assert.Equal("", output);
        Assert.Contains($"Secret written to: {file}", error);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        string first = File.ReadAllText(file);

        (code, _, error) = await Ww(null, "keygen", "--output", file);
        Assert.Equal(1, code);
        Assert.Contains("already exists", error);
        Assert.Equal(first, File.ReadAllText(file));

        (code, _, _) = await Ww(null, "keygen", "--output", file, "--force");
        Assert.Equal(0, code);
        Assert.NotEqual(first, File.ReadAllText(file));
    }

    [Fact]
    public async Task IdReadsWwIdentityAndPrintsTheSpecVector()
    {
        string file = Path.Combine(_dir, "vector.key");
        File.WriteAllText(file, "0x" + string.Concat(Enumerable.Repeat("01", 32)));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var (code, output, _) = await Ww(n => n == "WW_IDENTITY" ? file : null, "id");
        Assert.Equal(0, code);
        Assert.Contains("Peer ID: 16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi", output);
        Assert.DoesNotContain("0101", output);

        (code, _, string error) = await Ww(null, "id");
        Assert.Equal(2, code);
        Assert.Contains("WW_IDENTITY", error);
    }
}
