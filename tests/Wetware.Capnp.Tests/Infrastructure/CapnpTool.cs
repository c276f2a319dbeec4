using System.Diagnostics;

namespace Wetware.Capnp.Tests.Infrastructure;

/// <summary>
/// Runs the official Cap'n Proto tool (Debian's <c>capnp</c>), the reference our encoding is
/// checked against. Missing tool = failed test, never a skip: scripts/install-deps.sh installs it.
/// </summary>
internal static class CapnpTool
{
    public static byte[] Run(byte[] stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("capnp")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("the 'capnp' tool is not installed (apt-get install capnproto); run scripts/install-deps.sh", e);
        }
        using (p)
        {
            var output = new MemoryStream();
            Task copyOut = p.StandardOutput.BaseStream.CopyToAsync(output);
            Task<string> err = p.StandardError.ReadToEndAsync();
            p.StandardInput.BaseStream.Write(stdin);
            p.StandardInput.Close();
            if (!p.WaitForExit(60_000))
            {
                p.Kill();
                throw new TimeoutException($"capnp {string.Join(' ', args)} did not finish in 60 s");
            }
            copyOut.Wait();
            if (p.ExitCode != 0)
            {
                throw new InvalidOperationException($"capnp {string.Join(' ', args)} failed ({p.ExitCode}): {err.Result}");
            }
            return output.ToArray();
        }
    }

    /// <summary>Converts between the tool's formats: <c>capnp convert FROM:TO schema Root</c>.</summary>
    public static byte[] Convert(string from, string to, string schema, string root, byte[] input) =>
        Run(input, "convert", $"--import-path={Path.Combine(RepoRoot, "schema")}", $"{from}:{to}", schema, root);

    public static string ToText(string format, string schema, string root, byte[] input) =>
        System.Text.Encoding.UTF8.GetString(Convert(format, "text", schema, root, input));

    /// <summary>The repository root (where Wetware.slnx is).</summary>
    public static string RepoRoot
    {
        get
        {
            return Repository.Root;
        }
    }
}
