using System.CommandLine;
using System.Text;
using System.Text.RegularExpressions;
using Wetware.Identity;
using Wetware.Ipfs;

namespace Wetware.Cli;

/// <summary><c>ww push [PATH] [--ipfs-url URL] [--stem ADDRESS --identity PATH --rpc-url URL]</c> (shared/spec/cli.md).</summary>
internal static class PushCommand
{
    /// <summary>The node's key file in an image (identity.md): never published.</summary>
    public const string IdentityPath = "etc/identity";

    public const string IgnoreFile = ".wwignore";

    public static Command Build(WwIo io, TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        var path = new Argument<string>("PATH")
        {
            Description = "The directory to publish (default: the current directory)",
            Arity = ArgumentArity.ZeroOrOne,
            DefaultValueFactory = _ => ".",
        };
        var ipfsUrl = CommonOptions.Url("--ipfs-url", "IPFS node HTTP RPC API (default: $WW_IPFS_URL, then http://127.0.0.1:5001)", null, "http", "https");
        var identity = new Option<string?>("--identity")
        {
            Description = "The node key file (default: $WW_IDENTITY); a file of the tree holding this key is refused; with --stem, it signs setHead",
        };
        var stem = CommonOptions.Stem("Atom contract address (0x + 40 hex digits): also make the tree its head, signed by the node key (--identity or $WW_IDENTITY, required)");
        var rpcUrl = CommonOptions.Url("--rpc-url", "EVM JSON-RPC endpoint over HTTP for --stem", CommonOptions.DefaultRpcUrl, "http", "https");
        var cmd = new Command("push",
            "Add a directory to IPFS as one UnixFS tree (pinned) and print its /ipfs/<cid>. " +
            "A tree holding the node's key file (etc/identity, or a file holding the --identity key) is refused. " +
            "Paths listed in a .wwignore at the tree's root (one path or glob per line, '*' and '?' within a name, '#' comments) are left out. " +
            "With --stem, also call setHead on that Atom contract with the CID's binary bytes, signed by the node key and sent to --rpc-url " +
            "(the chain id is the node's eth_chainId), and print 'tx: <hash>' once the transaction is sent and 'seq: <n>', the new head's seq, " +
            "once it is mined. A refusal by the contract (not the owner, or already the head) is an error and sends nothing.")
        {
            path, ipfsUrl, identity, stem, rpcUrl,
        };
        cmd.SetAction(async (parse, _) =>
        {
            string? contract = parse.GetValue(stem);
            string? keyPath = parse.GetValue(identity) ?? (io.GetEnvironmentVariable("WW_IDENTITY") is { Length: > 0 } k ? k : null);
            if (contract is null && parse.GetResult(rpcUrl) is { Implicit: false })
            {
                return Usage(stderr, "--rpc-url is used only with --stem");
            }
            if (contract is not null && keyPath is null)
            {
                return Usage(stderr, "--stem needs the node key that owns the contract: --identity PATH or WW_IDENTITY");
            }
            string root = parse.GetValue(path) ?? ".";
            if (!Directory.Exists(root))
            {
                stderr.WriteLine(File.Exists(root)
                    ? $"error: '{root}' is a file: ww push publishes a directory"
                    : $"error: no directory '{root}'");
                return WwCli.HostFailure;
            }
            string url = parse.GetValue(ipfsUrl) ?? (io.GetEnvironmentVariable("WW_IPFS_URL") is { Length: > 0 } env ? env : IpfsClientOptions.DefaultApiUrl.ToString());
            if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? apiUrl) || apiUrl.Scheme is not ("http" or "https"))
            {
                stderr.WriteLine($"error: WW_IPFS_URL must be a http or https URL, got '{url}'");
                return WwCli.UsageError;
            }
            try
            {
                Func<string, bool> include = Ignore.Load(root).Includes;
                using NodeKey? key = keyPath is null ? null : NodeKey.Load(keyPath);
                if (FindKeyFile(root, include, key?.PeerId) is { } found)
                {
                    stderr.WriteLine($"error: '{found}' in '{root}' is a node key file: a pushed tree is public, so it is refused " +
                                     $"(remove it, or list it in {IgnoreFile})");
                    return WwCli.HostFailure;
                }
                using var client = new IpfsClient(new IpfsClientOptions { ApiUrl = apiUrl, Timeout = io.IpfsTimeout ?? new IpfsClientOptions().Timeout });
                Cid cid = await client.AddDirectoryAsync(root, new IpfsAddOptions(), include, stop);
                stdout.WriteLine($"/ipfs/{cid}");
                if (contract is not null)
                {
                    await StemPush.SetHeadAsync(key!, contract, new Uri(parse.GetValue(rpcUrl)!), cid, stdout, stop);
                }
                return 0;
            }
            catch (Exception e) when (e is IpfsException or KeyFileException or StemPushException or IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return WwCli.HostFailure;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                stderr.WriteLine("error: interrupted");
                return WwCli.Interrupted;
            }
        });
        return cmd;
    }

    private static int Usage(TextWriter stderr, string problem)
    {
        // cli.md: one line naming the problem, then the hint, exit 2.
        stderr.WriteLine($"error: {problem}");
        stderr.WriteLine("see 'ww push --help'");
        return WwCli.UsageError;
    }

    /// <summary>The first file (relative, '/'-separated) that would be pushed and is the node's key file, if any.</summary>
    private static string? FindKeyFile(string root, Func<string, bool> include, PeerId? key)
    {
        var pending = new Stack<(DirectoryInfo, string)>();
        pending.Push((new DirectoryInfo(root), ""));
        while (pending.Count > 0)
        {
            var (dir, prefix) = pending.Pop();
            foreach (FileSystemInfo info in dir.EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                string relative = prefix + info.Name;
                if (!include(relative))
                {
                    continue;
                }
                if (info is DirectoryInfo sub)
                {
                    pending.Push((sub, relative + "/"));
                    continue;
                }
                if (relative == IdentityPath)
                {
                    return relative;
                }
                if (key is { } id && IsKey(info.FullName, id))
                {
                    return relative;
                }
            }
        }
        return null;
    }

    private static bool IsKey(string file, PeerId key)
    {
        try
        {
            if (new FileInfo(file).Length > 4096)
            {
                return false;
            }
            using NodeKey candidate = NodeKey.Load(file);
            return candidate.PeerId == key;
        }
        catch (Exception e) when (e is KeyFileException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// The <c>.wwignore</c> at a tree's root: one path or glob per line, relative to the root ('/' separated, a
    /// leading '/' and a trailing '/' are ignored); <c>*</c> and <c>?</c> match within one name; a pattern
    /// without '/' matches that name at any depth; <c>#</c> starts a comment line. An ignored directory is left
    /// out whole.
    /// </summary>
    internal sealed class Ignore
    {
        private readonly List<(Regex Pattern, bool AnyDepth)> _patterns = [];

        public static Ignore Load(string root)
        {
            var ignore = new Ignore();
            string file = Path.Combine(root, IgnoreFile);
            if (!File.Exists(file))
            {
                return ignore;
            }
            foreach (string raw in File.ReadAllLines(file, Encoding.UTF8))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }
                line = line.Trim('/');
                if (line.Length == 0)
                {
                    continue;
                }
                string regex = "^" + string.Concat(line.Select(c => c switch
                {
                    '*' => "[^/]*",
                    '?' => "[^/]",
                    _ => Regex.Escape(c.ToString()),
                })) + "$";
                ignore._patterns.Add((new Regex(regex, RegexOptions.CultureInvariant), !line.Contains('/')));
            }
            return ignore;
        }

        /// <summary>False for a path (relative to the root, '/'-separated) that the file lists.</summary>
        public bool Includes(string relative)
        {
            string name = relative[(relative.LastIndexOf('/') + 1)..];
            foreach (var (pattern, anyDepth) in _patterns)
            {
                if (pattern.IsMatch(relative) || (anyDepth && pattern.IsMatch(name)))
                {
                    return false;
                }
            }
            return true;
        }
    }
}
