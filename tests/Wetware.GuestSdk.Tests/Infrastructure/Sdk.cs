using System.Diagnostics;
using System.Reflection;

namespace Wetware.GuestSdk.Tests;

/// <summary>
/// The guest SDK and the test guests (tests/sdk-guests), built once per test run by guest/sdk/build.sh
/// (capnpc-c, clang-14, wasi-libc) into the test output directory; and a module cache private to the run.
/// </summary>
internal static class Sdk
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Directory => Built.Value;

    /// <summary>WW_GUEST_DEBUG=1: guests built with DWARF, unstripped, for backtraces with source lines.</summary>
    public static bool Debug { get; } = Environment.GetEnvironmentVariable("WW_GUEST_DEBUG") is "1";

    public static string CacheDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "module-cache");

    /// <summary>A test guest (sdktest, codec) or an example (examples/NAME).</summary>
    public static byte[] Guest(string name) => File.ReadAllBytes(Path.Combine(Directory, name + ".wasm"));

    /// <summary>The capnpc-c this test assembly was built with.</summary>
    public static string Plugin => typeof(Sdk).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "CapnpcC").Value!;

    public static string RepositoryRoot
    {
        get
        {
            return Repository.Root;
        }
    }

    public static string GuestSource(string file) => Path.Combine(RepositoryRoot, "tests/sdk-guests", file);

    private static string Build()
    {
        string output = Path.Combine(AppContext.BaseDirectory, Debug ? "sdk-debug" : "sdk");
        string root = RepositoryRoot;
        var psi = new ProcessStartInfo("bash",
        [
            Path.Combine(root, "guest/sdk/build.sh"), output,
            "--schema", GuestSource("sdktest.capnp"),
            "--schema", Path.Combine(root, "tests/schemas/test.capnp"),
            GuestSource("sdktest.c"), GuestSource("codec.c"), GuestSource("e2e.c"),
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["CAPNPC_C"] = Plugin;
        if (Debug)
        {
            psi.Environment["WW_GUEST_DEBUG"] = "1";
        }
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"building the guest SDK failed (needs capnp, clang-14, lld-14, wasi-libc: scripts/install-deps.sh): {err.Result}");
        }
        return output;
    }
}
