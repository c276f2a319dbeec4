using Wetware.Cli.Tests.Infrastructure;

namespace Wetware.Cli.Tests;

/// <summary>
/// The standard kernel's interactive mode (shared/spec/shell.md), driven through a real pseudo-terminal
/// running the built <c>ww run</c>: what a person at a terminal types and sees.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KernelShellTests(BuiltGuests guests) : IClassFixture<BuiltGuests>, IDisposable
{
    private const string Prompt = " \u276F ";

    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-shell-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    /// <summary>A layer with test commands: bin/exit3.wasm, bin/slow/main.wasm, and bin/echo.wasm over @std's.</summary>
    private string TestLayer()
    {
        string layer = Path.Combine(_scratch, "layer");
        Directory.CreateDirectory(Path.Combine(layer, "bin", "slow"));
        Directory.CreateDirectory(Path.Combine(layer, "etc"));
        File.Copy(Path.Combine(guests.Tests, "exit3.wasm"), Path.Combine(layer, "bin", "exit3.wasm"));
        File.Copy(Path.Combine(guests.Tests, "slow.wasm"), Path.Combine(layer, "bin", "slow", "main.wasm"));
        File.WriteAllText(Path.Combine(layer, "etc", "motd"), "hello from the layer\n");
        return layer;
    }

    /// <summary>A shell session: waits for each prompt, sends one line, returns what came before the next prompt.</summary>
    private sealed class Shell : IAsyncDisposable
    {
        private readonly WwProcess _ww;

        private Shell(WwProcess ww) => _ww = ww;

        public WwProcess Process => _ww;

        public static async Task<Shell> StartAsync(params string[] args)
        {
            var shell = new Shell(WwProcess.InTerminal(["run", "--port", "0", .. args]));
            await shell._ww.WaitForAsync("/" + Prompt);
            return shell;
        }

        /// <summary>Sends a line; returns the output after its echo up to the next prompt (or continuation prompt).</summary>
        public async Task<string> LineAsync(string line, bool continuation = false)
        {
            int mark = _ww.Output.Length;
            await _ww.SendAsync(line + "\n");
            string text = await _ww.WaitUntilAsync(t => After(t, mark, continuation) is not null, $"the prompt after '{line}'");
            return After(text, mark, continuation)!;
        }

        // The terminal echoes the line first; the answer follows, then the next prompt ends it.
        private static string? After(string text, int mark, bool continuation)
        {
            int echoed = text.IndexOf('\n', Math.Min(mark, text.Length));
            if (echoed < 0)
            {
                return null;
            }
            string rest = text[(echoed + 1)..];
            int end = continuation ? rest.LastIndexOf("... ", StringComparison.Ordinal) : rest.LastIndexOf(Prompt, StringComparison.Ordinal);
            if (end < 0 || (continuation ? end + 4 : end + Prompt.Length) != rest.Length)
            {
                return null;
            }
            string answer = rest[..end];
            if (!continuation)
            {
                answer = answer[..(answer.LastIndexOf('\n') + 1)]; // without the prompt's cwd
            }
            return answer.TrimEnd('\n');
        }

        public async Task<int> CtrlDAsync()
        {
            await _ww.SendAsync("\u0004");
            return await _ww.ExitAsync();
        }

        public ValueTask DisposeAsync() => _ww.DisposeAsync();
    }

    [Fact]
    public async Task BuiltInsNavigateAndReadTheImage()
    {
        await using Shell shell = await Shell.StartAsync("@std", TestLayer());
        Assert.Equal("\"/\"", await shell.LineAsync("(pwd)"));
        Assert.Equal("", await shell.LineAsync("(cd \"bin\")"));
        await shell.Process.WaitForAsync("/bin" + Prompt);
        Assert.Equal("\"/bin\"", await shell.LineAsync("(pwd)"));
        Assert.Equal("echo.wasm\nexit3.wasm\nslow/\nwc.wasm\nww-info.wasm", await shell.LineAsync("(ls)"));
        Assert.Equal("", await shell.LineAsync("(cd \"../etc\")"));
        Assert.Equal("\"/etc\"", await shell.LineAsync("(pwd)"));
        Assert.Equal("hello from the layer", await shell.LineAsync("(cat \"motd\")"));
        Assert.Equal("main.wasm", await shell.LineAsync("(ls \"/boot\")"));
        Assert.Equal("", await shell.LineAsync("(cd)"));
        Assert.Equal("\"/\"", await shell.LineAsync("(pwd)"));
        Assert.StartsWith("error: cd: /nowhere: ", await shell.LineAsync("(cd \"/nowhere\")"));
        Assert.Equal("error: /boot: is a directory", await shell.LineAsync("(cat \"/boot\")"));
        Assert.StartsWith("error: /etc/none: ", await shell.LineAsync("(cat \"/etc/none\")"));

        string help = await shell.LineAsync("(help)");
        foreach (string form in new[] { "(host id)", "(host addrs)", "(host peers)", "(host connect", "(executor echo", "(ipfs cat", "(ipfs ls", "(ipfs add", "(cd ", "(pwd)", "(ls ", "(cat ", "(help)", "(exit " })
        {
            Assert.Single(help.Split('\n'), l => l.StartsWith(form, StringComparison.Ordinal));
        }
        Assert.Equal(0, await shell.CtrlDAsync());
    }

    [Fact]
    public async Task TheReaderAndPrinterRoundTripEverySyntax()
    {
        await using Shell shell = await Shell.StartAsync();
        // () evaluates to nil; every other form prints as it was read.
        Assert.Equal("[1 -2 :k {:a \"b\" :c [nil true false]} sym nil]", await shell.LineAsync("[1 -2 :k {:a \"b\", :c [nil true false]} sym ()] ; a comment"));
        Assert.Equal("\"quote \\\" backslash \\\\ newline \\n tab \\t\"", await shell.LineAsync("\"quote \\\" backslash \\\\ newline \\n tab \\t\""));
        Assert.Equal("", await shell.LineAsync("; only a comment"));
        Assert.Equal("1\n2", await shell.LineAsync("1 2"));
        Assert.Equal("9223372036854775807", await shell.LineAsync("9223372036854775807"));
        Assert.StartsWith("error: integer out of range", await shell.LineAsync("9223372036854775808"));

        // A terminal's line is at most 4095 bytes (cooked mode): 300 levels fit, past the kernel's bound of 128.
        Assert.StartsWith("error: too deeply nested", await shell.LineAsync(new string('[', 300) + new string(']', 300)));

        // An unbalanced form goes on on the next lines, with the continuation prompt.
        Assert.Equal("", await shell.LineAsync("(executor echo", continuation: true));
        Assert.Equal("", await shell.LineAsync("  ; still going", continuation: true));
        Assert.Equal("\"spans lines\"", await shell.LineAsync("\"spans lines\")"));
        Assert.Equal("", await shell.LineAsync("\"a string", continuation: true));
        Assert.Equal("\"a string\\nacross lines\"", await shell.LineAsync("across lines\""));
        Assert.Equal("\"after\"", await shell.LineAsync("(executor echo \"after\")"));
    }

    [Fact]
    public async Task NoInputCrashesTheKernel()
    {
        await using Shell shell = await Shell.StartAsync();
        Assert.Equal("error: unbalanced ')'", await shell.LineAsync(")"));
        Assert.Equal("error: unexpected ']' (expected ')')", await shell.LineAsync("(pwd]"));
        Assert.StartsWith("error: unknown escape '\\q'", await shell.LineAsync("\"\\q\""));
        Assert.StartsWith("error: a map needs an even number of forms", await shell.LineAsync("{:a}"));
        Assert.StartsWith("error: too deeply nested", await shell.LineAsync("(echo " + new string('(', 200) + new string(')', 200) + ")"));
        Assert.StartsWith("error: host has no method 'nope'", await shell.LineAsync("(host nope)"));
        Assert.Equal("error: (executor echo text) takes 1 argument, got 0", await shell.LineAsync("(executor echo)"));
        Assert.StartsWith("error: cannot call 1", await shell.LineAsync("(1 2)"));
        Assert.StartsWith("error: (exit [code])", await shell.LineAsync("(exit \"x\")"));
        Assert.Equal("\"still here\"", await shell.LineAsync("(executor echo \"still here\")"));
    }

    [Fact]
    public async Task CapabilityFormsAnswerOrSayWhyNot()
    {
        string key = Path.Combine(_scratch, "node.key");
        File.WriteAllText(key, "0101010101010101010101010101010101010101010101010101010101010101\n");
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        const string PeerId = "16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi";
        await using Shell shell = await Shell.StartAsync("--identity", key);
        Assert.Equal($"\"{PeerId}\"", await shell.LineAsync("(host id)"));
        Assert.Equal("\"hello\"", await shell.LineAsync("(executor echo \"hello\")"));
        Assert.Equal("\"a\\n\\\"b\\\"\"", await shell.LineAsync("(executor echo \"a\\n\\\"b\\\"\")"));
        Assert.Matches("^\\[.*\\]$", await shell.LineAsync("(host addrs)"));
        Assert.Matches("^\\[.*\\]$", await shell.LineAsync("(host peers)"));
        // Network and IPFS forms without a network or an IPFS node: the host's reason, as an error.
        Assert.StartsWith("error: ", await shell.LineAsync($"(host connect \"/ip4/127.0.0.1/tcp/1/p2p/{PeerId}\")"));
        Assert.StartsWith("error: host connect: the address needs a /p2p/", await shell.LineAsync("(host connect \"/ip4/127.0.0.1/tcp/1\")"));
        Assert.StartsWith("error: ", await shell.LineAsync("(ipfs cat \"/ipfs/bafkqaaa\")"));
        Assert.StartsWith("error: ", await shell.LineAsync("(ipfs ls \"/ipfs/bafkqaaa\")"));
        Assert.StartsWith("error: ", await shell.LineAsync("(ipfs add \"text\")"));
        Assert.StartsWith("error: ipfs has no method", await shell.LineAsync("(ipfs nope \"x\")"));
        // Commands: /bin of @std, with their args (nested forms evaluated first).
        Assert.Equal("hello big world 42 :k /", await shell.LineAsync("(echo hello \"big world\" 42 :k (pwd))"));
        Assert.Equal("5", await shell.LineAsync("(wc abc de)"));
        Assert.Equal("0 0 0", await shell.LineAsync("(wc)")); // its stdin is closed: EOF at once
        Assert.Equal($"Peer ID: {PeerId}\nepoch: 0", await shell.LineAsync("(ww-info)"));
    }

    [Fact]
    public async Task HostConnectReachesAnotherNodeAndHostPeersListsIt()
    {
        string empty = Path.Combine(_scratch, "daemon");
        Directory.CreateDirectory(empty);
        var (daemon, peer, port) = await KernelDaemonTests.StartDaemonAsync(_scratch, "daemon", empty);
        await using (daemon)
        {
            await using Shell shell = await Shell.StartAsync();
            Assert.Equal("[]", await shell.LineAsync("(host peers)"));
            Assert.Equal("nil", await shell.LineAsync($"(host connect \"/ip4/127.0.0.1/tcp/{port}/p2p/{peer}\")"));
            string peers = await shell.LineAsync("(host peers)");
            Assert.StartsWith($"[{{:id \"{peer}\" :addrs [", peers);
            Assert.Contains($"\"/ip4/127.0.0.1/tcp/{port}\"", peers);
            Assert.Equal(0, await shell.CtrlDAsync());
        }
    }

    [Fact]
    public async Task IpfsFormsAddCatAndListThroughARealIpfsNode()
    {
        await using Wetware.Ipfs.Tests.IpfsNode node = await Wetware.Ipfs.Tests.IpfsNode.StartAsync();
        string dir = Path.Combine(_scratch, "tree");
        Directory.CreateDirectory(Path.Combine(dir, "etc"));
        File.WriteAllText(Path.Combine(dir, "readme"), "read me\n");
        File.WriteAllText(Path.Combine(dir, "etc", "motd"), "hi\n");
        string tree;
        using (Wetware.Ipfs.IpfsClient client = node.Client())
        {
            tree = (await client.AddDirectoryAsync(dir)).ToString();
            await client.AddAsync(new byte[] { 0xff, 0xfe, 0x00 });
        }
        await using Shell shell = await Shell.StartAsync("--ipfs-url", node.ApiUrl.ToString());
        string added = await shell.LineAsync("(ipfs add \"text from the shell\")");
        Assert.Matches("^\"/ipfs/[A-Za-z0-9]+\"$", added);
        Assert.Equal("\"text from the shell\"", await shell.LineAsync($"(ipfs cat {added})"));
        Assert.Equal("\"hi\\n\"", await shell.LineAsync($"(ipfs cat \"/ipfs/{tree}/etc/motd\")"));
        string listing = await shell.LineAsync($"(ipfs ls \"/ipfs/{tree}\")");
        Assert.StartsWith("[{:name \"etc\" ", listing);
        Assert.Contains(":name \"readme\" :size 8 :type :file :cid \"", listing);
        string binary = await shell.LineAsync($"(ipfs add \"x\")");
        Assert.StartsWith("\"/ipfs/", binary);
        Assert.StartsWith("error: ", await shell.LineAsync("(ipfs cat \"/ipfs/not-a-cid\")"));
        Assert.Equal(0, await shell.CtrlDAsync());
    }

    [Fact]
    public async Task PathCommandsRunFromTheMergedImageAndReportFailures()
    {
        string layer = TestLayer();
        await using Shell shell = await Shell.StartAsync("@std", layer);
        Assert.Equal("nope: command not found", await shell.LineAsync("(nope 1 2)"));
        Assert.Equal("exit3 ran\nexit3: exit code 3", await shell.LineAsync("(exit3)"));

        // bin/slow/main.wasm prints a line, waits 4 s, prints another: the first shows before the command ends.
        int mark = shell.Process.Output.Length;
        await shell.Process.SendAsync("(slow)\n");
        string early = await shell.Process.WaitForAsync("slow: first", mark);
        Assert.DoesNotContain("slow: last", early[mark..]);
        await shell.Process.WaitForAsync("slow: last\n/" + Prompt, mark);

        // A built-in wins over a command of the same name; a layer's /bin/echo.wasm wins over @std's.
        File.Copy(Path.Combine(guests.Tests, "exit3.wasm"), Path.Combine(layer, "bin", "pwd.wasm"));
        Assert.Equal("\"/\"", await shell.LineAsync("(pwd)"));
        Assert.Equal(0, await shell.CtrlDAsync());

        File.Copy(Path.Combine(guests.Tests, "exit3.wasm"), Path.Combine(layer, "bin", "echo.wasm"));
        await using Shell again = await Shell.StartAsync("@std", layer);
        Assert.Equal("exit3 ran\necho: exit code 3", await again.LineAsync("(echo hi)"));
        Assert.Equal("exit3 ran\nexit3: exit code 3", await again.LineAsync("(exit3)"));
        Assert.Equal(0, await again.CtrlDAsync());
    }

    [Fact]
    public async Task ExitEndsTheShellWithItsCode()
    {
        await using Shell shell = await Shell.StartAsync();
        await shell.Process.SendAsync("(exit 7)\n");
        Assert.Equal(7, await shell.Process.ExitAsync());
    }

    [Fact]
    public async Task CtrlDInsideAFormExitsZero()
    {
        await using Shell shell = await Shell.StartAsync();
        Assert.Equal("", await shell.LineAsync("(executor echo", continuation: true));
        Assert.Equal(0, await shell.CtrlDAsync());
        Assert.Contains("error: end of input inside a form", shell.Process.Output);
    }
}

/// <summary>
/// The shell across an epoch advance (shared/spec/shell.md: a stale-epoch error makes the kernel re-graft once
/// and retry). The host runs in this process so the test moves the epoch itself, as the Stem pipeline would.
/// </summary>
public sealed class KernelEpochTests(BuiltGuests guests) : IClassFixture<BuiltGuests>
{
    [Fact]
    public async Task AfterAnEpochAdvanceTheShellReGraftsAndRetriesTheCommand()
    {
        var epochs = new Wetware.Host.EpochSource();
        var stdin = new System.IO.Pipelines.Pipe();
        var stdout = new System.IO.Pipelines.Pipe();
        using var stop = new CancellationTokenSource();
        Task<int> run = Wetware.Host.Pid0.RunAsync(new Wetware.Host.HostOptions
        {
            Layers = [guests.Std],
            CacheDirectory = guests.Cache,
            Epochs = epochs,
            Terminal = true, // WW_TTY=1: the interactive shell
            Stdin = stdin.Reader.AsStream(),
            Stdout = stdout.Writer.AsStream(),
        }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, stop.Token);
        var output = new System.Text.StringBuilder();
        using var reader = new StreamReader(stdout.Reader.AsStream());
        async Task<string> UntilAsync(string text)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var buffer = new char[4096];
            while (!output.ToString().Contains(text, StringComparison.Ordinal))
            {
                int n = await reader.ReadAsync(buffer, timeout.Token);
                Assert.True(n > 0, "the shell ended early:\n" + output);
                output.Append(buffer, 0, n);
            }
            return output.ToString();
        }
        async Task SendAsync(string line) => await stdin.Writer.WriteAsync(System.Text.Encoding.UTF8.GetBytes(line + "\n"));

        await UntilAsync(" \u276F ");
        await SendAsync("(executor echo \"before\")");
        await UntilAsync("\"before\"");
        epochs.Advance(new Wetware.Host.EpochInfo(1, new byte[] { 1 }, 10));
        await SendAsync("(executor echo \"after\")");
        string seen = await UntilAsync("\"after\"");
        Assert.DoesNotContain("error:", seen); // the stale session was replaced, the command retried
        await SendAsync("(ww-info)");
        seen = await UntilAsync("epoch: 1");
        await stdin.Writer.CompleteAsync(); // Ctrl-D
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
