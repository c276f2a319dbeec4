using System.IO.Pipelines;
using System.Text;
using System.Threading.Channels;
using Wetware.Host;
using Wetware.Ipfs;
using Wetware.Ipfs.Tests;

namespace Wetware.Cli.Tests;

/// <summary>
/// The host's side of <c>ww run --stem</c> (shared/spec/stem.md, "Adopt" and "Faults") against a real IPFS node:
/// the epochs come from a feed the test controls, as the chain indexer (tested on its own against anvil) would
/// give them. pid0 is tests/guests/sdk/stemprobe.c, which names its image and epoch and echoes its stdin.
/// </summary>
public sealed class StemPipelineTests(BuiltGuests guests, IpfsNode node) : IClassFixture<BuiltGuests>, IClassFixture<IpfsNode>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-stem-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    /// <summary>Epochs handed to the host by the test.</summary>
    private sealed class Feed(EpochInfo first) : IEpochFeed
    {
        private readonly Channel<EpochInfo> _epochs = Channel.CreateUnbounded<EpochInfo>();

        public Task<EpochInfo> StartAsync(CancellationToken cancellationToken) => Task.FromResult(first);

        public ValueTask<EpochInfo> ReadAsync(CancellationToken cancellationToken) => _epochs.Reader.ReadAsync(cancellationToken);

        public bool TryRead(out EpochInfo epoch) => _epochs.Reader.TryRead(out epoch!);

        public void Publish(EpochInfo epoch) => _epochs.Writer.TryWrite(epoch);
    }

    private Task<Cid> ImageAsync(IpfsClient client, string marker, bool store = true) => StemProbe.ImageAsync(client, guests, _scratch, marker, store);

    /// <summary>A host following the test's feed from <paramref name="first"/>, its stdin and stdout pipes in the test's hands.</summary>
    private sealed class Running(Feed feed, ListLogger log, Pipe stdin, Pipe stdout, Task<int> run)
    {
        private RunOutput? _output;

        public Feed Feed => feed;

        public ListLogger Log => log;

        public PipeWriter Stdin => stdin.Writer;

        /// <summary>The host's stdout as raw bytes; use this or <see cref="Output"/>, not both.</summary>
        public PipeReader Stdout => stdout.Reader;

        public Task<int> Run => run;

        public RunOutput Output => _output ??= new RunOutput(stdout.Reader, run, () => "log:\n" + string.Join("\n", log.Entries.Select(e => e.Message)));

        public async Task SendAsync(string line) => await stdin.Writer.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
    }

    /// <summary>Starts the host on epoch <paramref name="first"/>; <paramref name="adjust"/> changes the options the tests share.</summary>
    private Running Start(EpochInfo first, Func<HostOptions, HostOptions>? adjust = null)
    {
        var feed = new Feed(first);
        var log = new ListLogger();
        var stdin = new Pipe();
        var stdout = new Pipe();
        var options = new HostOptions
        {
            Stem = feed,
            IpfsUrl = node.ApiUrl,
            CacheDirectory = guests.Cache,
            Stdin = stdin.Reader.AsStream(),
            Stdout = stdout.Writer.AsStream(),
        };
        return new Running(feed, log, stdin, stdout, Pid0.RunAsync(adjust is null ? options : adjust(options), log));
    }

    [Fact]
    public async Task EachFinalEpochRestartsPid0OnItsHeadAndTheOldCapabilitiesGoStale()
    {
        using IpfsClient client = node.Client();
        Cid a = await ImageAsync(client, "A");
        Cid b = await ImageAsync(client, "B");
        Running host = Start(new EpochInfo(0, a.Bytes.ToArray(), 5), o => o with
        {
            IpfsTimeout = TimeSpan.FromSeconds(2),
            StemRetryLimit = TimeSpan.FromMilliseconds(500),
        });
        RunOutput output = host.Output;

        // Epoch 0: the head (a binary CID) is the image, and the host pinned it.
        await output.UntilAsync("A: up in epoch 0\n");
        await host.SendAsync("one");
        await output.UntilAsync("A: line one\n");
        Assert.Contains(a, await client.PinLsAsync());

        // Epoch 1, its head as UTF-8 /ipfs/ text: the old pid0's stdin closes and its capabilities are stale; the
        // new pid0 runs B and reads the host's stdin on from there.
        host.Feed.Publish(new EpochInfo(1, Encoding.UTF8.GetBytes("/ipfs/" + b), 12));
        await output.UntilAsync("A: echo failed: staleEpoch: ");
        await output.UntilAsync("B: up in epoch 1\n");
        await host.SendAsync("two");
        await output.UntilAsync("B: line two\n");
        IReadOnlyList<Cid> pins = await client.PinLsAsync();
        Assert.Contains(b, pins);
        Assert.DoesNotContain(a, pins);

        // Epoch 2's head is not on the IPFS node: not adopted, B goes on, until the head can be fetched.
        Cid c = await ImageAsync(client, "C", store: false);
        host.Feed.Publish(new EpochInfo(2, c.Bytes.ToArray(), 20));
        await host.Log.WaitForWarningAsync("epoch 2 is final but not adopted yet", Timeout);
        await host.SendAsync("three");
        await output.UntilAsync("B: line three\n");
        Assert.DoesNotContain("C: ", output.Text);
        Assert.Equal(c, await ImageAsync(client, "C"));
        await output.UntilAsync("C: up in epoch 2\n");

        // The end of the host's stdin reaches the newest pid0, whose fresh capabilities work; its exit ends the run.
        await host.Stdin.CompleteAsync();
        await output.UntilAsync("C: echo after stdin closed\n");
        Assert.Equal(0, await host.Run.WaitAsync(Timeout));
        Assert.Equal(1, CountOf(output.Text, "B: up"));
        Assert.Contains(c, await client.PinLsAsync());
    }

    [Fact]
    public async Task TheStandardKernelRestartedOnANewHeadSeesTheNewEpoch()
    {
        // A: the standard image; B: the same with one more command, /bin/bsays (the echo command under another name).
        using IpfsClient client = node.Client();
        string b = Path.Combine(_scratch, "std-b");
        CopyTree(guests.Std, b);
        File.Copy(Path.Combine(b, "bin", "echo.wasm"), Path.Combine(b, "bin", "bsays.wasm"));
        Cid imageA = await client.AddDirectoryAsync(guests.Std, new IpfsAddOptions { Pin = false });
        Cid imageB = await client.AddDirectoryAsync(b, new IpfsAddOptions { Pin = false });
        Running host = Start(new EpochInfo(0, imageA.Bytes.ToArray(), 1), o => o with { Terminal = true }); // WW_TTY=1: the interactive shell
        RunOutput output = host.Output;
        const string Prompt = " \u276F ";

        await output.UntilAsync(o => CountOf(o, Prompt) == 1, "the first prompt");
        await host.SendAsync("(bsays \"from A\")");
        await output.UntilAsync(o => o.Contains("bsays: command not found", StringComparison.Ordinal), "A's answer");
        await host.SendAsync("(ww-info)");
        await output.UntilAsync(o => o.Contains("epoch: 0", StringComparison.Ordinal) && CountOf(o, Prompt) == 3, "epoch 0 and the prompt after it");
        const int prompts = 3;

        host.Feed.Publish(new EpochInfo(1, imageB.Bytes.ToArray(), 7));
        await output.UntilAsync(o => CountOf(o, Prompt) > prompts, "the restarted kernel's prompt");
        await host.SendAsync("(bsays \"from B\")");
        await output.UntilAsync(o => o.Contains("from B", StringComparison.Ordinal), "B's answer");
        await host.SendAsync("(ww-info)");
        await output.UntilAsync(o => o.Contains("epoch: 1", StringComparison.Ordinal), "epoch 1");
        await host.Stdin.CompleteAsync(); // Ctrl-D
        Assert.Equal(0, await host.Run.WaitAsync(Timeout));
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        }
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }

    [Fact]
    public async Task APid0ThatIgnoresTheEndOfItsStdinIsKilledAfterTheGraceAndTheNewOneStarts()
    {
        // Epoch 0's pid0 spins forever (tests/guests/spin.c); epoch 1's is the probe.
        using IpfsClient client = node.Client();
        string spin = Path.Combine(_scratch, "spin");
        Directory.CreateDirectory(Path.Combine(spin, "boot"));
        File.Copy(Path.Combine(guests.Tests, "spin.wasm"), Path.Combine(spin, "boot", "main.wasm"));
        Cid a = await client.AddDirectoryAsync(spin, new IpfsAddOptions { Pin = false });
        Cid b = await ImageAsync(client, "B");
        Running host = Start(new EpochInfo(0, a.Bytes.ToArray(), 1), o => o with { StopGrace = TimeSpan.FromMilliseconds(500) });
        using var reader = new StreamReader(host.Stdout.AsStream());
        using var timeout = new CancellationTokenSource(Timeout);
        Assert.Equal("spinning", await reader.ReadLineAsync(timeout.Token));
        host.Feed.Publish(new EpochInfo(1, b.Bytes.ToArray(), 2));
        Assert.Equal("B: up in epoch 1", await reader.ReadLineAsync(timeout.Token));
        Assert.Contains(host.Log.Entries, e => e.Message.Contains("pid0 did not exit within 0.5 s: killing it", StringComparison.Ordinal));
        await host.Stdin.CompleteAsync();
        Assert.Equal("B: echo after stdin closed", await reader.ReadLineAsync(timeout.Token));
        Assert.Equal(0, await host.Run.WaitAsync(Timeout));
    }

    [Fact]
    public async Task AHeadWhoseBootModuleCannotStartIsNotAdoptedAndANewerOneIs()
    {
        using IpfsClient client = node.Client();
        Cid a = await ImageAsync(client, "A");
        string broken = Path.Combine(_scratch, "broken");
        Directory.CreateDirectory(Path.Combine(broken, "boot"));
        File.WriteAllText(Path.Combine(broken, "boot", "main.wasm"), "not a wasm module");
        Cid bad = await client.AddDirectoryAsync(broken, new IpfsAddOptions { Pin = false });
        Cid b = await ImageAsync(client, "B");
        Running host = Start(new EpochInfo(0, a.Bytes.ToArray(), 1), o => o with { StemRetryLimit = TimeSpan.FromMilliseconds(300) });
        RunOutput output = host.Output;
        await output.UntilAsync("A: up in epoch 0\n");

        // A bad push does not take the node down: epoch 1 is not adopted and A goes on.
        host.Feed.Publish(new EpochInfo(1, bad.Bytes.ToArray(), 2));
        string warning = await host.Log.WaitForWarningAsync("epoch 1 is final but not adopted yet", Timeout);
        Assert.Contains($"/boot/main.wasm of /ipfs/{bad} cannot start: invalid module", warning);
        await host.SendAsync("still");
        await output.UntilAsync("A: line still\n");

        // The next final head replaces it.
        host.Feed.Publish(new EpochInfo(2, b.Bytes.ToArray(), 3));
        await output.UntilAsync("B: up in epoch 2\n");
        await host.Stdin.CompleteAsync();
        Assert.Equal(0, await host.Run.WaitAsync(Timeout));
        Assert.DoesNotContain("epoch 1\n", output.Text);
    }

    [Fact]
    public async Task AFirstHeadThatCannotBeFetchedFailsTheRunNamingIt()
    {
        using IpfsClient client = node.Client();
        Cid missing = await ImageAsync(client, "M", store: false);
        var log = new ListLogger();
        HostException e = await Assert.ThrowsAsync<HostException>(() => Pid0.RunAsync(new HostOptions
        {
            Stem = new Feed(new EpochInfo(3, missing.Bytes.ToArray(), 9)),
            IpfsUrl = node.ApiUrl,
            IpfsTimeout = TimeSpan.FromSeconds(1),
            StemStartTimeout = TimeSpan.FromSeconds(3),
            CacheDirectory = guests.Cache,
        }, log).WaitAsync(Timeout));
        Assert.Contains($"the head of epoch 3 (/ipfs/{missing}) could not be used within 3 s", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x12, 0x20, 1, 2 }, "neither a binary CID")]
    [InlineData(new byte[0], "the head is empty")]
    [InlineData(new byte[] { (byte)'/', (byte)'i', (byte)'p', (byte)'f', (byte)'s', (byte)'/', 0xff }, "not a UTF-8 IPFS path")]
    public async Task AHeadThatIsNotACidFailsTheRunSayingWhy(byte[] head, string why)
    {
        HostException e = await Assert.ThrowsAsync<HostException>(() => Pid0.RunAsync(new HostOptions
        {
            Stem = new Feed(new EpochInfo(0, head, 1)),
            IpfsUrl = node.ApiUrl,
            CacheDirectory = guests.Cache,
        }, new ListLogger()).WaitAsync(Timeout));
        Assert.Contains("the Atom head of epoch 0 cannot be used", e.Message);
        Assert.Contains(why, e.Message);
    }

    private static int CountOf(string text, string part)
    {
        int count = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + 1, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
