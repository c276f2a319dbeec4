using System.CommandLine;
using Wetware.Identity;

namespace Wetware.Cli;

/// <summary><c>ww keygen</c> and <c>ww id</c> (shared/spec/cli.md, identity.md).</summary>
internal static class KeyCommands
{
    public static Command Keygen(TextWriter stdout, TextWriter stderr)
    {
        var output = new Option<string?>("--output") { Description = "Write the secret to this file (mode 0600) instead of printing it" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing --output file" };
        var cmd = new Command("keygen",
            "Make a new secp256k1 node key. Without --output the secret (base58btc) goes to stdout; the EVM address and Peer ID go to stderr.")
        {
            output, force,
        };
        cmd.SetAction(parse =>
        {
            using NodeKey key = NodeKey.Generate();
            string? path = parse.GetValue(output);
            if (path is null)
            {
                stdout.WriteLine(key.ExportSecretBase58());
            }
            else
            {
                try
                {
                    key.Save(path, parse.GetValue(force));
                }
                catch (Exception e) when (e is KeyFileException or IOException or UnauthorizedAccessException)
                {
                    stderr.WriteLine($"error: {e.Message}");
                    return WwCli.HostFailure;
                }
                stderr.WriteLine($"Secret written to: {path}");
            }
            stderr.WriteLine($"EVM address: {key.EvmAddress}");
            stderr.WriteLine($"Peer ID: {key.PeerId}");
            return 0;
        });
        return cmd;
    }

    public static Command Id(WwIo io, TextWriter stdout, TextWriter stderr)
    {
        var identity = new Option<string?>("--identity") { Description = "The node key file (default: $WW_IDENTITY)" };
        var cmd = new Command("id", "Print the Peer ID and EVM address of a node key file, never the secret.") { identity };
        cmd.SetAction(parse =>
        {
            string? path = parse.GetValue(identity) ?? (io.GetEnvironmentVariable("WW_IDENTITY") is { Length: > 0 } env ? env : null);
            if (path is null)
            {
                stderr.WriteLine("error: no key file: give --identity PATH or set WW_IDENTITY");
                stderr.WriteLine("see 'ww id --help'");
                return WwCli.UsageError;
            }
            try
            {
                using NodeKey key = NodeKey.Load(path);
                stdout.WriteLine($"Peer ID: {key.PeerId}");
                stdout.WriteLine($"EVM address: {key.EvmAddress}");
                return 0;
            }
            catch (KeyFileException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return WwCli.HostFailure;
            }
        });
        return cmd;
    }
}
