using System.Diagnostics;
using System.Text;

namespace Wetware.GuestSdk.Tests;

/// <summary>
/// The SDK's portable C built natively with gcc's AddressSanitizer and UndefinedBehaviorSanitizer: wasm only
/// traps on accesses outside linear memory, so a reader that strays outside a segment (or an engine that
/// touches freed memory) inside memory would go unnoticed in a cell. Missing gcc fails the test (install-deps).
/// </summary>
internal static class Native
{
    private static readonly Lazy<string> CodecBuilt = new(() => Build("codec-asan",
        [Sdk.GuestSource("codec.c"), Path.Combine(Sdk.RepositoryRoot, "guest/sdk/src/cp.c"), Path.Combine(Sdk.Directory, "gen/test.capnp.c"), "-lm"]));

    private static readonly Lazy<string> RpcFuzzBuilt = new(() => Build("rpcfuzz-asan",
    [
        Sdk.GuestSource("rpcfuzz.c"), Path.Combine(Sdk.RepositoryRoot, "guest/sdk/src/rpc.c"),
        Path.Combine(Sdk.RepositoryRoot, "guest/sdk/src/cp.c"), Path.Combine(Sdk.Directory, "gen/rpc.capnp.c"),
    ]));

    /// <summary>codec.c over cp.c and the generated test.capnp code.</summary>
    public static string Codec => CodecBuilt.Value;

    /// <summary>rpcfuzz.c over the RPC engine (rpc.c), cp.c and the generated rpc.capnp code.</summary>
    public static string RpcFuzz => RpcFuzzBuilt.Value;

    private static string Build(string name, string[] sources)
    {
        string dir = Path.Combine(Sdk.Directory, "native");
        Directory.CreateDirectory(dir);
        string exe = Path.Combine(dir, name);
        string root = Sdk.RepositoryRoot;
        (int code, string output) = Run("gcc",
        [
            "-std=c11", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-Wall", "-Wextra", "-Werror",
            "-D_DEFAULT_SOURCE", "-I" + Path.Combine(root, "guest/sdk/include"), "-I" + Path.Combine(root, "guest/sdk/src"),
            "-I" + Path.Combine(Sdk.Directory, "gen"), .. sources, "-o", exe,
        ], []);
        if (code != 0)
        {
            throw new InvalidOperationException($"building {name} with gcc (ASan, UBSan) failed (apt-get install g++): {output}");
        }
        return exe;
    }

    /// <summary>Runs a program to its end: its exit code and what it printed (stdout, then stderr).</summary>
    public static (int Code, string Output) Run(string file, string[] args, byte[] stdin)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["ASAN_OPTIONS"] = "detect_leaks=0";
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        var output = new MemoryStream();
        Task copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        p.StandardInput.BaseStream.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(300_000))
        {
            p.Kill(entireProcessTree: true);
            return (-1, "timed out");
        }
        copy.Wait();
        return (p.ExitCode, Encoding.UTF8.GetString(output.ToArray()) + err.Result);
    }
}
