using System.Diagnostics;

namespace Wetware.Cells.Tests;

/// <summary>
/// The C test guests of tests/guests, built once per test run by its build.sh (clang-14, wasi-libc) into the
/// test output directory, and a module cache directory private to the run.
/// </summary>
internal static class Guests
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Directory => Built.Value;

    /// <summary>The tests' module cache, beside the built guests (never the user's ~/.cache).</summary>
    public static string CacheDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "module-cache");

    public static byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(Directory, name + ".wasm"));

    public static string RepositoryRoot
    {
        get
        {
            return Repository.Root;
        }
    }

    private static string Build()
    {
        string output = Path.Combine(AppContext.BaseDirectory, "guests");
        var psi = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot, "tests/guests/build.sh"), output])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"building the C test guests failed (needs clang-14, lld-14, wasi-libc: scripts/install-deps.sh): {err.Result}");
        }
        return output;
    }
}
