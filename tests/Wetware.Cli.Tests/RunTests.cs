using System.Diagnostics;
using System.Text;
using Wetware.Cli;

namespace Wetware.Cli.Tests;

/// <summary>The C guests of tests/guests and the bundled image of guest/, built once per run.</summary>
public sealed class BuiltGuests
{
    public BuiltGuests()
    {
        string root = Repository.Root;
        Tests = Path.Combine(AppContext.BaseDirectory, "guests");
        Run("tests/guests/build.sh", root, Tests);
        string built = Path.Combine(AppContext.BaseDirectory, "guest-build");
        Run("guest/build.sh", root, built);
        // Guests that use the guest SDK (tests/guests/sdk/*.c), linked by guest/sdk/build.sh.
        SdkTests = Path.Combine(Tests, "sdk");
        Run("guest/sdk/build.sh", root, SdkTests, [.. Directory.GetFiles(Path.Combine(root, "tests", "guests", "sdk"), "*.c")]);
        Std = Path.Combine(built, "std");
        Cache = Path.Combine(AppContext.BaseDirectory, "module-cache");
    }

    public string Tests { get; }

    public string Std { get; }

    /// <summary>Where tests/guests/sdk/NAME.c is built, as NAME.wasm.</summary>
    public string SdkTests { get; }

    public string Cache { get; }

    /// <summary>The capnpc-c plugin guest/build.sh generates the SDK's code with (built before the tests).</summary>
    public static string CapnpcC { get; } = typeof(BuiltGuests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
        .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "CapnpcC").Value!;

    /// <summary>The built <c>ww</c> executable, with the bundled image (std/) beside it.</summary>
    public static string WwBinary { get; } = typeof(BuiltGuests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
        .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "WwBinary").Value!;

    private static void Run(string script, string root, string output, params string[] args)
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(root, script), output, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["CAPNPC_C"] = CapnpcC;
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed (needs clang-14 and wasi-libc: scripts/install-deps.sh): {err.Result}");
        }
    }
}

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RunTests(BuiltGuests guests) : IClassFixture<BuiltGuests>, IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-run-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    /// <summary>A layer directory holding <paramref name="guest"/> as boot/main.wasm, plus extra files.</summary>
    private string Image(string name, string? guest, params (string Path, string Content)[] files)
    {
        string dir = Path.Combine(_scratch, name);
        Directory.CreateDirectory(dir);
        if (guest is not null)
        {
            Directory.CreateDirectory(Path.Combine(dir, "boot"));
            File.Copy(Path.Combine(guests.Tests, guest + ".wasm"), Path.Combine(dir, "boot", "main.wasm"));
        }
        foreach (var (path, content) in files)
        {
            string full = Path.Combine(dir, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }
        return dir;
    }

    private async Task<(int Code, string Out, string Err)> Ww(string stdin, bool terminal, CancellationToken stop, params string[] args)
    {
        var output = new MemoryStream();
        var error = new MemoryStream();
        var io = new WwIo(new MemoryStream(Encoding.UTF8.GetBytes(stdin)), output, error)
        {
            StdinIsTerminal = terminal,
            StdImage = guests.Std,
            CacheDirectory = guests.Cache,
            GetEnvironmentVariable = _ => null,
        };
        if (args.Length > 0 && args[0] == "run" && !args.Contains("--port"))
        {
            args = ["run", "--port", "0", .. args[1..]]; // tests run side by side: never the fixed default port
        }
        int code = await WwCli.RunAsync(args, io, stop).WaitAsync(TimeSpan.FromSeconds(60));
        return (code, Encoding.UTF8.GetString(output.ToArray()), Encoding.UTF8.GetString(error.ToArray()));
    }

    private Task<(int Code, string Out, string Err)> Ww(params string[] args) => Ww("", false, CancellationToken.None, args);

    [Fact]
    public async Task Pid0RunsWithItsArgvEnvironmentAndExitCode()
    {
        string image = Image("a", "hello");
        var (code, output, error) = await Ww("run", image);
        Assert.Equal(0, code);
        Assert.Contains("argv[0]=/boot/main.wasm", output);
        Assert.Contains("env PATH=/bin", output);
        Assert.DoesNotContain("WW_TTY", output);
        Assert.Contains("hello on stderr", error);
    }

    [Fact]
    public async Task ATerminalStdinSetsWwTty()
    {
        var (code, output, _) = await Ww("", true, CancellationToken.None, "run", Image("a", "hello"));
        Assert.Equal(0, code);
        Assert.Contains("env WW_TTY=1", output);
    }

    [Fact]
    public async Task TheHostsStdinReachesPid0()
    {
        var (code, output, _) = await Ww("line one\nline two\n", false, CancellationToken.None, "run", Image("a", "cat"));
        Assert.Equal(0, code);
        Assert.Equal("line one\nline two\n", output);
    }

    [Fact]
    public async Task WithNoLayerTheBundledImageBoots()
    {
        // The standard kernel in daemon mode (stdin is no terminal): ready, then end of input ends it.
        var (code, _, error) = await Ww("run");
        Assert.Equal(0, code);
        Assert.Contains("{\"event\":\"ready\",\"peer_id\":\"16Uiu2", error);
    }

    [Fact]
    public async Task LayersMergeAndPid0SeesTheMergedImage()
    {
        // @std's kernel, as a shell, lists the image: our layer's files appear beside its own.
        string extra = Image("extra", null, ("bin/tool", "x"), ("etc/motd", "hi"));
        var (code, output, _) = await Ww("(ls \"/bin\")\n(ls \"/etc\")\n(ls \"/boot\")\n", true, CancellationToken.None, "run", "@std", extra);
        Assert.Equal(0, code);
        Assert.Contains("\ntool\n", output);
        Assert.Contains("echo.wasm\n", output);
        Assert.Contains("motd\n", output);
        Assert.Contains("main.wasm\n", output);
    }

    [Fact]
    public async Task AnImageWithoutBootMainWasmIsAnErrorListingTheLayers()
    {
        string a = Image("a", null, ("bin/x", "x"));
        var (code, _, error) = await Ww("run", a);
        Assert.Equal(1, code);
        Assert.Equal($"error: no boot/main.wasm in the merged image (layers: {a})", error.Trim());
    }

    [Fact]
    public async Task MergeConflictsAndMissingLayersAreHostFailures()
    {
        string a = Image("a", "hello", ("lib", "file"));
        string b = Image("b", null, ("lib/x.so", "dir"));
        var (code, _, error) = await Ww("run", a, b);
        Assert.Equal(1, code);
        Assert.Contains($"'{a}'", error);
        Assert.Contains($"'{b}'", error);

        (code, _, error) = await Ww("run", Path.Combine(_scratch, "missing"));
        Assert.Equal(1, code);
        Assert.Contains("does not exist", error);
    }

    [Fact]
    public async Task ATrapExitsWith134AndLogsTheTrap()
    {
        var (code, _, error) = await Ww("run", Image("a", "trap"));
        Assert.Equal(134, code);
        Assert.Contains("trap", error);
    }

    [Fact]
    public async Task TheMemoryLimitReachesPid0()
    {
        // memhog allocates until malloc fails; with 16 MiB it reports ENOMEM quickly instead of trapping.
        var (code, output, _) = await Ww("run", "--memory-limit", "16", Image("a", "memhog"));
        Assert.Equal(0, code);
        Assert.Contains("malloc=ENOMEM", output);
        int allocated = int.Parse(output.Split('\n').Single(l => l.StartsWith("allocated=")).Split('=', ' ')[1]);
        Assert.InRange(allocated, 1, 16);
    }

    [Fact]
    public async Task EscapeAttemptsThroughAMergedImageFailCleanly()
    {
        // Layer a: the key at /etc/identity, a link to a host file outside the layer, a plain file.
        string a = Image("a", "escape", ("etc/identity", VectorSecretHex), ("etc/hosts", "h"), ("target", "in a"));
        string outside = Image("outside", null, ("secret", "host file"));
        File.CreateSymbolicLink(Path.Combine(a, "escape"), Path.Combine(outside, "secret"));
        // Layer b: a link to layer a's file (outside layer b's own tree).
        string b = Image("b", null, ("b/keep", "k"));
        File.CreateSymbolicLink(Path.Combine(b, "b", "crosslink"), Path.Combine(a, "target"));

        var (code, output, error) = await Ww("run", a, b);
        Assert.True(code == 0, error);
        var seen = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=')).ToDictionary(p => p[0], p => p[1]);
        var expected = new Dictionary<string, string>
        {
            ["identity"] = "ENOENT",
            ["dotdot"] = "ENOENT",
            ["host-absolute"] = "ENOENT",
            ["link-out"] = "ENOENT",
            ["link-across"] = "ENOENT",
            ["write"] = "EROFS",
            ["create"] = "EROFS",
            ["truncate"] = "EROFS",
            ["unlink"] = "EROFS",
            ["rename"] = "EROFS",
            ["mkdir"] = "EROFS",
            ["fd5"] = "EBADF",
            ["fd100"] = "EBADF",
            ["fd-1"] = "EBADF",
            ["identity-listed"] = "0",
        };
        Assert.Equal(expected.OrderBy(kv => kv.Key), seen.OrderBy(kv => kv.Key));
    }

    private const string VectorSecretHex = "0101010101010101010101010101010101010101010101010101010101010101";
    private const string VectorPeerId = "16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi";

    [Fact]
    public async Task TheNodeKeyComesFromIdentityThenALocalLayerThenIsEphemeral()
    {
        string keyFile = Path.Combine(_scratch, "node.key");
        File.WriteAllText(keyFile, VectorSecretHex + "\n");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string image = Image("a", "hello");

        var (code, _, error) = await Ww("run", "--identity", keyFile, image);
        Assert.Equal(0, code);
        Assert.Contains($"node identity from {keyFile}: {VectorPeerId}", error);
        Assert.DoesNotContain(VectorSecretHex, error);

        string layered = Image("b", "hello", ("etc/identity", VectorSecretHex));
        File.SetUnixFileMode(Path.Combine(layered, "etc", "identity"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (code, _, error) = await Ww("run", layered);
        Assert.Equal(0, code);
        Assert.Contains($"from /etc/identity of layer '{layered}': {VectorPeerId}", error);

        (code, _, error) = await Ww("run", image);
        Assert.Equal(0, code);
        Assert.Contains("ephemeral key", error);
    }

    [Fact]
    public async Task ABadKeyFileIsAHostFailureThatNeverShowsItsContent()
    {
        string keyFile = Path.Combine(_scratch, "bad.key");
        File.WriteAllText(keyFile, "not-a-key-at-all-but-secretish");
        var (code, _, error) = await Ww("run", "--identity", keyFile, Image("a", "hello"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains(keyFile, error);
        Assert.DoesNotContain("secretish", error);
    }

    [Fact]
    public async Task TheNodeListensAndLogsItsAddresses()
    {
        var (code, _, error) = await Ww("run", Image("a", "hello"));
        Assert.Equal(0, code);
        Assert.Matches(@"listening on /ip4/0\.0\.0\.0/tcp/[1-9][0-9]*/p2p/16Uiu2", error);
    }

    [Fact]
    public async Task APortInUseIsAHostFailureNamingThePort()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Any, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var (code, _, error) = await Ww("run", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), Image("a", "hello"));
        Assert.Equal(1, code);
        Assert.Contains($"error: cannot listen on TCP port {port}: it is in use", error);
    }
}

/// <summary>Stopping pid0 (SIGINT/SIGTERM): its stdin closes, it gets a grace period, then it is killed.</summary>
public sealed class StopTests(BuiltGuests guests) : IClassFixture<BuiltGuests>, IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-stop-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    private Wetware.Host.HostOptions Options(string guest, Stream stdin, Stream stdout)
    {
        string dir = Path.Combine(_scratch, guest);
        Directory.CreateDirectory(Path.Combine(dir, "boot"));
        File.Copy(Path.Combine(guests.Tests, guest + ".wasm"), Path.Combine(dir, "boot", "main.wasm"), overwrite: true);
        return new Wetware.Host.HostOptions
        {
            Layers = [dir],
            CacheDirectory = guests.Cache,
            Stdin = stdin,
            Stdout = stdout,
            StopGrace = TimeSpan.FromMilliseconds(300),
        };
    }

    /// <summary>pid0's stdout: says when the guest first wrote (it has started).</summary>
    private sealed class FirstWrite : MemoryStream
    {
        private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Written => _written.Task.WaitAsync(TimeSpan.FromSeconds(30));

        public override void Write(byte[] buffer, int offset, int count)
        {
            base.Write(buffer, offset, count);
            _written.TrySetResult();
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await base.WriteAsync(buffer, cancellationToken);
            _written.TrySetResult();
        }
    }

    /// <summary>A stdin that never ends (like a terminal nobody types into), after an optional first chunk.</summary>
    private sealed class EndlessInput(byte[]? first = null) : Stream
    {
        private byte[]? _first = first;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_first is { } first)
            {
                _first = null;
                first.CopyTo(buffer);
                return first.Length;
            }
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task AStopClosesStdinAndAGuestThatReadsItExitsOnItsOwn()
    {
        using var stop = new CancellationTokenSource();
        var output = new FirstWrite();
        Task<int> run = Wetware.Host.Pid0.RunAsync(Options("cat", new EndlessInput("started\n"u8.ToArray()), output), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, stop.Token);
        await output.Written; // cat runs: it copied the first line
        Assert.False(run.IsCompleted); // and waits on stdin for more
        stop.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(10))); // end of file, then a normal exit
    }

    [Fact]
    public async Task AStopKillsAGuestThatIgnoresItAfterTheGracePeriod()
    {
        using var stop = new CancellationTokenSource();
        var output = new FirstWrite();
        Task<int> run = Wetware.Host.Pid0.RunAsync(Options("spin", new EndlessInput(), output), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, stop.Token);
        await output.Written; // "spinning"
        var clock = Stopwatch.StartNew();
        stop.Cancel();
        Assert.Equal(137, await run.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"killed after {clock.Elapsed}, before the grace period");
        Assert.Contains("spinning", Encoding.UTF8.GetString(output.ToArray()));
    }
}
