using System.CommandLine;
using System.CommandLine.Parsing;
using System.Reflection;

namespace Wetware.Cli;

/// <summary>The process's standard streams and environment, as <c>ww</c> sees them (tests pass their own).</summary>
public sealed record WwIo(Stream Stdin, Stream Stdout, Stream Stderr)
{
    /// <summary>stdin is a terminal (pid0 then gets WW_TTY=1).</summary>
    public bool StdinIsTerminal { get; init; }

    /// <summary>Reads an environment variable.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>The directory of the bundled standard image (<c>@std</c>).</summary>
    public string? StdImage { get; init; } = Path.Join(AppContext.BaseDirectory, "std");

    /// <summary>Where compiled modules are cached; null: the user's cache directory.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The limit of one call to the IPFS node; null: the client's default (30 s).</summary>
    public TimeSpan? IpfsTimeout { get; init; }

    /// <summary>How long <c>ww run --stem</c> may not reach the chain node (and then the first head) at start; null: 30 s (shared/spec/stem.md).</summary>
    public TimeSpan? StemStartTimeout { get; init; }

    /// <summary>The real process's streams.</summary>
    public static WwIo Console() => new(System.Console.OpenStandardInput(), System.Console.OpenStandardOutput(), System.Console.OpenStandardError())
    {
        StdinIsTerminal = !System.Console.IsInputRedirected,
    };
}

/// <summary>The <c>ww</c> command tree (see shared/spec/cli.md).</summary>
public static class WwCli
{
    /// <summary>Exit code for a usage error (cli.md, "Exit codes").</summary>
    public const int UsageError = 2;

    /// <summary>Exit code for a host failure.</summary>
    public const int HostFailure = 1;

    /// <summary>Exit code when interrupted before pid0 started.</summary>
    public const int Interrupted = 130;

    public static string Version =>
        typeof(WwCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";

    /// <summary>Runs <c>ww</c> with the given standard streams; <paramref name="stop"/> is SIGINT/SIGTERM.</summary>
    public static async Task<int> RunAsync(string[] args, WwIo io, CancellationToken stop = default)
    {
        var stdout = new StreamWriter(io.Stdout, new System.Text.UTF8Encoding(false), 4096, leaveOpen: true) { AutoFlush = true };
        var stderr = new StreamWriter(io.Stderr, new System.Text.UTF8Encoding(false), 4096, leaveOpen: true) { AutoFlush = true };
        await using (stdout.ConfigureAwait(false))
        await using (stderr.ConfigureAwait(false))
        {
            return await RunAsync(args, io, stdout, stderr, stop).ConfigureAwait(false);
        }
    }

    private static async Task<int> RunAsync(string[] args, WwIo io, TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        var root = Build(io, stdout, stderr, stop);
        // Signals are ours (Program.cs): pid0 gets a 5 s grace period, not System.CommandLine's.
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        // No response files: "@std" is a layer, not a file of arguments.
        ParseResult parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
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

    private static RootCommand Build(WwIo io, TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        var root = new RootCommand(
            "Wetware: a decentralized operating system for autonomous agents. " +
            "Agents are WebAssembly programs that run in sandboxed cells and act only through the Cap'n Proto capabilities they are handed.");
        root.Subcommands.Add(RunCommand.Build(io, stderr, stop));
        root.Subcommands.Add(PushCommand.Build(io, stdout, stderr, stop));
        root.Subcommands.Add(KeyCommands.Keygen(stdout, stderr));
        root.Subcommands.Add(KeyCommands.Id(io, stdout, stderr));
        // The built-in --version reads the entry assembly; ours names this tool's own version.
        VersionOption version = root.Options.OfType<VersionOption>().Single();
        version.Action = new PrintVersion(stdout);
        return root;
    }
}
