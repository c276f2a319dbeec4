using System.IO.Pipelines;
using System.Text;
using System.Threading.Channels;
using Wetware.Capnp.Rpc;
using Wetware.Cells;
using Wetware.GuestSdk.Tests.Schema;
using Wetware.Host;
using Wetware.Identity;
using Wetware.Images;

namespace Wetware.GuestSdk.Tests;

/// <summary>
/// C guests built with the SDK against the real host: its Membrane, Executor, Process, streams and epoch
/// guard (src/Wetware.Host), as <c>ww run</c> puts them together for pid0. The guest half is
/// tests/sdk-guests/e2e.c (and sdktest.c for the echo storm).
/// </summary>
public sealed class HostEndToEndTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task PidZeroGraftsAndCallsHostIdEchoAndEpoch()
    {
        using NodeKey key = NodeKey.Generate();
        var epochs = new EpochSource(new EpochInfo(5, new byte[] { 1, 2 }, 99));
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["session"], epochs, key);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("hello host", v["echo"]);
        Assert.Equal("5", v["epoch"]);
        Assert.Equal(Convert.ToHexStringLower(key.PeerId.Bytes.Span), v["peer"]);
        Assert.Equal("via host.executor", v["host-executor"]);
        Assert.Equal("1", v["identity"]);
        Assert.Equal("1", v["ipfs"]);
    }

    [Fact]
    public async Task AGraftSignedByTheNodesSignerSucceedsAndAGuestSignerThatHangsTimesOut()
    {
        using NodeKey key = NodeKey.Generate();
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["signer"], key: key, signerTimeout: TimeSpan.FromMilliseconds(500));
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("signed", v["signed-graft"]);
        // The second graft's signer (served by the guest) never answers: only that graft fails.
        Assert.Equal("graft auth failed: signer did not answer", v["graft-error"]);
        Assert.False(v.ContainsKey("hanging"), r.ToString());
    }

    [Fact]
    public async Task AHundredThousandEchoCallsPipelinedOnGraftThroughTheRealExecutor()
    {
        // sdktest's storm: graft is sent and the first 100 echo calls go out pipelined on its answer;
        // then 100 stay in flight until 100,000 are done.
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "sdktest", ["echo-many", "100000", "100"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("100000", v["done"]);
        Assert.Equal("0", v["errors"]);
        Assert.Equal("0,0,0,0,0", v["tables"]); // the guest's tables are empty once all is released
    }

    [Fact]
    public async Task AChildStartedWithRunBytesGraftsEchoesAndStreamsItsOutputAsItComes()
    {
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["parent-run"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        // The first line came back while the child still ran (the parent wrote the second line only
        // after reading it, and the child exits only at the end of its stdin).
        Assert.Equal("hi:first", v["first-line"]);
        Assert.Equal("hi:second", v["rest"]);
        Assert.Equal("child saw 2 lines", v["child-stderr"]);
        Assert.Equal("7", v["exit"]);
    }

    [Fact]
    public async Task AChildSpawnedWithAnAttenuatedCapabilityReachesNothingElse()
    {
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["parent-spawn"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("via parent", v["child-echo"]);
        // Its bootstrap is the parent's echo-only object, not a Membrane: graft is refused by that object.
        Assert.Equal("3:this object answers Tester.echo and Tester.sink only", v["child-graft"]);
        Assert.Equal("0", v["exit"]);
        Assert.Equal("2", v["served"]);
        Assert.Equal("via parent", v["log"]);
    }

    [Fact]
    public async Task AChildsExportReachesItsParentAndPidZerosExportReachesTheHost()
    {
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["parent-export"]);
        await g.LineAsync("waiting=1");
        Capability? export = await g.Session.ExportAsync().WaitAsync(GuestHarness.Timeout);
        Assert.NotNull(export);
        using (var pid0 = new Tester.Client(export))
        {
            using (var reply = await pid0.EchoAsync("from the host").AsTask().WaitAsync(GuestHarness.Timeout))
            {
                Assert.Equal("from the host", reply.Results.Text.ToString());
            }
            using (await pid0.EchoAsync("bye").AsTask().WaitAsync(GuestHarness.Timeout))
            {
            }
        }
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("to the child", v["child-reply"]);
        Assert.Equal("from the host,bye", v["log"]);
        Assert.Equal("0", v["status"]);
    }

    [Fact]
    public async Task EightMebibytesEachWayAtOnceThroughTheRealHost()
    {
        const int size = 8 << 20;
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["big-both", size.ToString()]);
        await g.LineAsync("sending=1");
        // While the guest's 8 MiB echo goes through the host's executor, the host sinks 8 MiB into the
        // guest's export.
        Capability? export = await g.Session.ExportAsync().WaitAsync(GuestHarness.Timeout);
        Assert.NotNull(export);
        using (var pid0 = new Tester.Client(export))
        {
            byte[] data = new byte[size];
            new Random(6).NextBytes(data);
            using var sunk = await pid0.SinkAsync(data).AsTask().WaitAsync(GuestHarness.Timeout);
            Assert.Equal((ulong)size, sunk.Results.Size);
        }
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal(size.ToString(), v["echoed"]);
        Assert.Equal("0", v["bad"]);
        Assert.Equal(size.ToString(), v["sunk"]);
    }

    [Fact]
    public async Task AnEpochAdvanceMakesOldCapabilitiesStaleAndLeavesRunningChildrenAloneUntilTheyCall()
    {
        var epochs = new EpochSource();
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["parent-epoch"], epochs);
        await g.LineAsync("ready=1");
        epochs.Advance(new EpochInfo(1, new byte[] { 0xca, 0xfe }, 1234));
        await g.WriteStdinAsync("go\n");
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("before=before", v["child-first"]);
        Assert.Equal("0", v["epoch-before"]);
        Assert.StartsWith("staleEpoch: this capability was made in epoch 0 and the host is in epoch 1", v["old-session"]);
        Assert.Equal("re-grafted", v["new-session"]);
        Assert.Equal("1", v["epoch-after"]);
        // The child went on running through the advance; its next call failed the same way, and it
        // grafted again by itself.
        Assert.StartsWith("stale=staleEpoch: this capability was made in epoch 0", v["child-then"]);
        Assert.Equal("re-grafted", v["after"]); // the same line: "stale=... after=re-grafted"
        Assert.Equal("0", v["child-exit"]);
    }
}

/// <summary>
/// A guest run as <c>ww run</c> runs pid0: its fd 4 served by the host's boot Membrane
/// (<see cref="MembraneServer"/> over a <see cref="HostContext"/>), its image a layer holding
/// <c>/e2e.wasm</c> (so it can start copies of itself), its stdout read line by line as it comes.
/// </summary>
internal sealed class RealHostGuest : IAsyncDisposable
{
    private readonly Pipe _stdin = new();
    private readonly Pipe _stdout = new();
    private readonly MemoryStream _stderr = new();
    private readonly StringBuilder _out = new();
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private Task? _reader;
    private readonly LogCollector _log;

    private RealHostGuest(LogCollector log) => _log = log;

    public GuestSession Session { get; private set; } = null!;

    private static readonly Lazy<string> ImageDirectory = new(() =>
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "e2e-image");
        System.IO.Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(Sdk.Directory, "e2e.wasm"), Path.Combine(dir, "e2e.wasm"), overwrite: true);
        return dir;
    });

    public static async Task<RealHostGuest> StartAsync(EngineFixture fixture, string guest, string[] args, EpochSource? epochs = null, NodeKey? key = null,
        TimeSpan? signerTimeout = null, Ipfs.IpfsClient? ipfs = null)
    {
        var g = new RealHostGuest(fixture.Log);
        MergedImage image = await ImageLayers.MergeAsync([ImageDirectory.Value], new ImageOptions());
        INodeIdentity identity = key is null ? NoIdentity.Instance : new NodeKeyIdentity(key);
        var host = new HostContext(identity, epochs ?? new EpochSource(), fixture.Engine, fixture.Log)
        {
            SignerTimeout = signerTimeout ?? TimeSpan.FromSeconds(10),
            Ipfs = ipfs,
        };
        using (Capability membrane = Capability.FromServer(new MembraneServer(host, GraftPolicy.Boot, null)))
        {
            g.Session = await GuestSession.StartAsync(fixture.Engine, Sdk.Guest(guest), new CellOptions
            {
                Name = "pid0",
                Args = [guest, .. args],
                Env = new Dictionary<string, string>(),
                Stdin = g._stdin.Reader,
                Stdout = g._stdout.Writer,
                Stderr = PipeWriter.Create(g._stderr),
                Image = new MergedImageFileSystem(image),
            }, membrane, null, fixture.Log, CancellationToken.None);
        }
        g._reader = g.ReadLinesAsync();
        return g;
    }

    private async Task ReadLinesAsync()
    {
        using var reader = new StreamReader(_stdout.Reader.AsStream(), Encoding.UTF8);
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_out)
            {
                _out.Append(line).Append('\n');
            }
            await _lines.Writer.WriteAsync(line);
        }
        _lines.Writer.Complete();
    }

    /// <summary>Waits until the guest has printed this line.</summary>
    public async Task LineAsync(string line)
    {
        using var timeout = new CancellationTokenSource(GuestHarness.Timeout);
        try
        {
            await foreach (string l in _lines.Reader.ReadAllAsync(timeout.Token))
            {
                if (l == line)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        throw new Xunit.Sdk.XunitException($"the guest did not print '{line}'; it printed:\n{Stdout}\nstderr:\n{Encoding.UTF8.GetString(_stderr.ToArray())}");
    }

    public async Task WriteStdinAsync(string text) => await _stdin.Writer.WriteAsync(Encoding.UTF8.GetBytes(text));

    private string Stdout
    {
        get
        {
            lock (_out)
            {
                return _out.ToString();
            }
        }
    }

    public async Task<GuestResult> CompletionAsync()
    {
        CellResult result = await Session.Cell.Completion.WaitAsync(GuestHarness.Timeout);
        await _stdout.Writer.CompleteAsync();
        await _reader!.WaitAsync(GuestHarness.Timeout);
        string stderr = Encoding.UTF8.GetString(_stderr.ToArray());
        if (result.ExitCode != 0)
        {
            stderr += $"\n({result.Reason})\nengine log:\n{_log.Text}";
        }
        return new GuestResult(result.ExitCode, Stdout, stderr);
    }

    public async ValueTask DisposeAsync()
    {
        await _stdin.Writer.CompleteAsync();
        await Session.Cell.DisposeAsync();
        await _stdout.Writer.CompleteAsync();
    }
}
