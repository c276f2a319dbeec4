using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using Wetware.Cells;

namespace Wetware.GuestSdk.Tests;

/// <summary>The SDK's C message runtime (guest/sdk), built natively with gcc and as a guest with clang-14.</summary>
public sealed class CapnpRuntime
{
    public CapnpRuntime()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Wetware.slnx")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        }
        Sdk = Path.Combine(root, "guest", "sdk");
        string out_ = Path.Combine(AppContext.BaseDirectory, "sdk-build");
        Directory.CreateDirectory(out_);
        Native = Path.Combine(out_, "capnp_test");
        Wasm = Path.Combine(out_, "capnp_test.wasm");
        string[] sources = [Path.Combine(Sdk, "src", "capnp.c"), Path.Combine(Sdk, "test", "capnp_test.c")];
        Run("gcc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I" + Path.Combine(Sdk, "include"), .. sources, "-o", Native]);
        Run("clang-14", ["--target=wasm32-wasi", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-Wl,--strip-all", "-I" + Path.Combine(Sdk, "include"), .. sources, "-o", Wasm]);
    }

    public string Sdk { get; }

    public string Native { get; }

    public string Wasm { get; }

    public static (int Code, string Out, string Err) Run(string program, string[] args, byte[]? stdin = null)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {program}");
        if (stdin is not null)
        {
            p.StandardInput.BaseStream.Write(stdin);
            p.StandardInput.Close();
        }
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        Task<string> error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (program is "gcc" or "clang-14" && p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed (scripts/install-deps.sh installs the compilers): {error.Result}");
        }
        return (p.ExitCode, output.Result, error.Result);
    }
}

public sealed class CapnpRuntimeTests(CapnpRuntime sdk) : IClassFixture<CapnpRuntime>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ww-sdk-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Schema => Path.Combine(sdk.Sdk, "test", "sdk_test.capnp");

    [Fact]
    public void TheReaderReadsWhatTheOfficialToolWrote()
    {
        string bin = Path.Combine(_dir, "shape.bin");
        var (code, output, error) = CapnpRuntime.Run("bash", ["-c", $"capnp convert text:binary '{Schema}' Shape < '{Path.Combine(sdk.Sdk, "test", "shape.txt")}' > '{bin}'"]);
        Assert.True(code == 0, error);
        (code, output, error) = CapnpRuntime.Run(sdk.Native, ["read", bin]);
        Assert.True(code == 0, error);
        string[] expected =
        [
            "name=from the official tool", "flag=1", "scale=-0.125", "id=18446744073709551615",
            "point[0]=3,-4,p", "point[1]=2147483647,-2147483648,", "tag[0]=x", "tag[1]=yz", "tag[2]=", "data=010203",
            "count[0]=1", "count[1]=4294967295", "nested.name=deeper", "nested.id=42", "nested.name=deepest", "error=0",
        ];
        foreach (string line in expected)
        {
            Assert.Contains(line, output.Split('\n'));
        }
    }

    [Fact]
    public void TheOfficialToolReadsWhatTheBuilderWrote()
    {
        string bin = Path.Combine(_dir, "built.bin");
        var (code, _, error) = CapnpRuntime.Run(sdk.Native, ["build", bin]);
        Assert.True(code == 0, error);
        (code, string text, error) = CapnpRuntime.Run("bash", ["-c", $"capnp convert binary:text '{Schema}' Shape < '{bin}'"]);
        Assert.True(code == 0, error);
        string flat = string.Join(" ", text.Split((char[])['\n', ' '], StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(
            "( name = \"built in C\", points = [ (x = 1, y = -10, label = \"first\"), (x = 2, y = -11, label = \"second\") ], " +
            "tags = [\"a\", \"\", \"third tag\"], data = \"\\000\\001\\376\\377\", flag = true, scale = 2.5, " +
            "nested = (name = \"inner\", flag = false, scale = 0, id = 7), id = 1234567890123, counts = [100, 200, 300] )", flat);
    }

    [Fact]
    public void HostileMessagesGiveErrorsNotCrashesNatively()
    {
        var (code, output, error) = CapnpRuntime.Run(sdk.Native, ["hostile"]);
        Assert.True(code == 0, output + error);
        Assert.Equal(9, output.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task HostileMessagesGiveErrorsNotCrashesInAGuest()
    {
        using var engine = new CellEngine(new CellEngineOptions { Cache = null });
        var stdout = new Pipe();
        Cell cell = await engine.StartAsync(await File.ReadAllBytesAsync(sdk.Wasm), new CellOptions { Args = ["capnp_test", "hostile"], Stdout = stdout.Writer });
        CellResult result = await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await stdout.Writer.CompleteAsync();
        string output = Encoding.UTF8.GetString((await stdout.Reader.ReadAsync()).Buffer.ToArray());
        Assert.True(result.ExitCode == 0, $"{result} {output}");
        Assert.Equal(9, output.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }
}
