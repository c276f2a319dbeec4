using System.CommandLine;
using System.CommandLine.Parsing;
using System.Reflection;

namespace Wetware.Cli;

/// <summary>The <c>ww</c> command tree (see shared/spec/cli.md).</summary>
public static class WwCli
{
    /// <summary>Exit code for a usage error (cli.md, "Exit codes").</summary>
    public const int UsageError = 2;

    /// <summary>Exit code for a host failure.</summary>
    public const int HostFailure = 1;

    public static string Version =>
        typeof(WwCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = Build(stdout, stderr);
        var config = new InvocationConfiguration { Output = stdout, Error = stderr };
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // cli.md: one line naming the problem, then the hint, exit 2.
            string command = CommandPath(parse.CommandResult);
            stderr.WriteLine($"error: {parse.Errors[0].Message}");
            stderr.WriteLine($"see '{command} --help'");
            return UsageError;
        }
        return await parse.InvokeAsync(config);
    }

    private sealed class PrintVersion(TextWriter stdout) : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            stdout.WriteLine(Version);
            return 0;
        }
    }

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                names.Add(c.Command is RootCommand ? "ww" : c.Command.Name);
            }
        }
        names.Reverse();
        return string.Join(' ', names);
    }

    private static RootCommand Build(TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand(
            "Wetware: a decentralized operating system for autonomous agents. " +
            "Agents are WebAssembly programs that run in sandboxed cells and act only through the Cap'n Proto capabilities they are handed.");
        root.Subcommands.Add(RunCommand.Build(stdout, stderr));
        // The built-in --version reads the entry assembly; ours names this tool's own version.
        VersionOption version = root.Options.OfType<VersionOption>().Single();
        version.Action = new PrintVersion(stdout);
        return root;
    }
}
