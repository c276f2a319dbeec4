using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Wetware.Ipfs.Tests;

/// <summary>
/// Debian's ipfs-cid (`ipfs_cid FILE`, installed by scripts/install-deps.sh): computes a file's CIDs without an
/// IPFS node. It takes no options and builds what both nodes build by default: 256 KiB chunks, a balanced DAG,
/// dag-pb leaves (no raw leaves); it prints {"CIDv0":"Qm...","CIDv1":"bafy..."}. Its CIDv1 is the CIDv0 root
/// re-spelled as CIDv1 (the links inside stay CIDv0): what a node makes with cid-version=1 and raw-leaves=false
/// only for a file of one chunk, since the node then links CIDv1 children.
/// </summary>
public static class IpfsCidTool
{
    public static async Task<(Cid V0, Cid V1)> ComputeAsync(string file)
    {
        var psi = new ProcessStartInfo("ipfs_cid", [file])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException("ipfs_cid did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("ipfs_cid is not installed (Debian package ipfs-cid; scripts/install-deps.sh installs it)", e);
        }
        using (p)
        {
            Task<string> output = p.StandardOutput.ReadToEndAsync();
            Task<string> errors = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            string text = await output;
            if (p.ExitCode != 0)
            {
                throw new InvalidOperationException($"ipfs_cid {file} failed ({p.ExitCode}): {text}{await errors}");
            }
            JsonNode json = JsonNode.Parse(text.Trim().Split('\n')[^1]) ?? throw new InvalidOperationException("ipfs_cid printed nothing");
            return (Cid.Parse(json["CIDv0"]!.GetValue<string>()), Cid.Parse(json["CIDv1"]!.GetValue<string>()));
        }
    }
}
