using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wetware.Identity.Tests;

/// <summary>
/// Runs tests/interop/identity/vectors.mjs (js-libp2p and noble, pinned by its package-lock.json), installing its
/// packages with `npm ci` first when they are missing (tests/interop/identity/install.sh, idempotent).
/// </summary>
public sealed class NodeInterop
{
    public NodeInterop()
    {
        string root = Repository.Root;
        Directory = Path.Combine(root, "tests", "interop", "identity");
        (int code, string _, string err) = Run("bash", [Path.Combine(Directory, "install.sh")], stdin: null, TimeSpan.FromMinutes(5));
        if (code != 0)
        {
            throw new InvalidOperationException($"installing the identity interop packages (npm ci) failed: {err}");
        }
    }

    public string Directory { get; }

    /// <summary>Sends <paramref name="request"/> to vectors.mjs and returns its JSON answer.</summary>
    public JsonNode Vectors(JsonObject request)
    {
        (int code, string output, string err) = Run("node", ["vectors.mjs"], request.ToJsonString(), TimeSpan.FromMinutes(2));
        if (code != 0)
        {
            throw new InvalidOperationException($"node vectors.mjs exited with {code}: {err}");
        }
        return JsonNode.Parse(output) ?? throw new InvalidOperationException("node vectors.mjs printed no JSON");
    }

    private (int Code, string Output, string Error) Run(string file, string[] args, string? stdin, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = Directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(psi)!;
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        Task<string> error = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
        }
        p.StandardInput.Close();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }
        return (p.ExitCode, output.Result, error.Result);
    }
}

internal static class Json
{
    public static string Str(this JsonNode? node, string name) =>
        node?[name]?.GetValue<string>() ?? throw new JsonException($"missing {name}");

    public static bool Bool(this JsonNode? node, string name) =>
        node?[name]?.GetValue<bool>() ?? throw new JsonException($"missing {name}");

    public static byte[] Hex(this JsonNode? node, string name) => Convert.FromHexString(node.Str(name));
}
