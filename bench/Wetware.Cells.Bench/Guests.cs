using System.Diagnostics;

namespace Wetware.Cells.Bench;

/// <summary>The benchmark's C guests (bench/guests), built by its build.sh unless <c>--guests DIR</c> names them.</summary>
internal static class Guests
{
    public static string RepositoryRoot()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Wetware.slnx")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("run from inside the repository");
        }
        return root;
    }

    /// <summary>The directory holding hello.wasm and reader.wasm, building them there first when it is ours.</summary>
    public static string Locate(string? given)
    {
        if (given is not null)
        {
            return given;
        }
        string output = Path.Combine(AppContext.BaseDirectory, "guests");
        var psi = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot(), "bench/guests/build.sh"), output])
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
                $"building the benchmark guests failed (needs clang-14, lld-14, wasi-libc: scripts/install-deps.sh): {err.Result}");
        }
        return output;
    }
}
