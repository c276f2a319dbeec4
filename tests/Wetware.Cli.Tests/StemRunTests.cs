using System.IO.Pipelines;
using System.Text;
using Nethereum.Web3;
using Wetware.Ipfs;
using Wetware.Ipfs.Tests;

namespace Wetware.Cli.Tests;

/// <summary>
/// <c>ww run --stem</c> end to end (issue 10, shared/spec/stem.md): a real anvil with the Atom contract, a real
/// IPFS node holding the images, and ww in this process. pid0 is tests/guests/sdk/stemprobe.c, which names its
/// image and the epoch it grafted in, and calls its first capability again when its stdin closes.
/// </summary>
public sealed class StemRunTests(BuiltGuests guests, IpfsNode node) : IClassFixture<BuiltGuests>, IClassFixture<IpfsNode>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-stem-run-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    private Task<Cid> ImageAsync(IpfsClient client, string marker) => StemProbe.ImageAsync(client, guests, _scratch, marker);

    private WwIo Io(Stream stdin, Stream stdout, Stream stderr, TimeSpan? stemStart = null) => new(stdin, stdout, stderr)
    {
        StdImage = guests.Std,
        CacheDirectory = Path.Combine(_scratch, "cache"),
        IpfsTimeout = TimeSpan.FromSeconds(5),
        StemStartTimeout = stemStart,
        GetEnvironmentVariable = name => name == "WW_IPFS_URL" ? node.ApiUrl.ToString() : null,
    };

    [Fact]
    public async Task AFinalSetHeadRestartsPid0OnTheNewImageInTheNextEpoch()
    {
        using IpfsClient client = node.Client();
        Cid a = await ImageAsync(client, "A");
        Cid b = await ImageAsync(client, "B");
        await using Anvil anvil = await Anvil.StartAsync();
        Web3 owner = anvil.Web3For(Anvil.OwnerKey);
        (string contract, _) = await AtomContract.DeployAsync(owner, a.Bytes.ToArray());
        const int Depth = 2;
        await anvil.MineAsync(Depth);

        var stdin = new Pipe();
        var stdout = new Pipe();
        var stderr = new MemoryStream();
        Task<int> run = WwCli.RunAsync(
            ["run", "--port", "0", "--stem", contract, "--rpc-url", anvil.HttpUrl.ToString(), "--ws-url", anvil.WebSocketUrl.ToString(), "--confirmation-depth", Depth.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            Io(stdin.Reader.AsStream(), stdout.Writer.AsStream(), stderr));
        var output = new RunOutput(stdout.Reader, run, () => "stderr:\n" + Encoding.UTF8.GetString(stderr.ToArray()));

        await output.UntilAsync("A: up in epoch 0\n");
        await stdin.Writer.WriteAsync("before\n"u8.ToArray());
        await output.UntilAsync("A: line before\n");

        // setHead(B) in one block, final Depth blocks later: not before.
        await AtomContract.SetHeadAsync(owner, contract, b.Bytes.ToArray());
        await anvil.MineAsync(Depth - 1);
        await Task.Delay(1500);
        Assert.DoesNotContain("B: ", output.Text);
        await anvil.MineAsync(1);
        await output.UntilAsync("A: echo failed: staleEpoch: ");
        await output.UntilAsync("B: up in epoch 1\n");
        await stdin.Writer.WriteAsync("after\n"u8.ToArray());
        await output.UntilAsync("B: line after\n");
        await stdin.Writer.CompleteAsync();
        await output.UntilAsync("B: echo after stdin closed\n");
        Assert.Equal(0, await run.WaitAsync(Timeout));
        Assert.Contains(b, await client.PinLsAsync());
        Assert.DoesNotContain(a, await client.PinLsAsync());
    }

    [Fact]
    public async Task AChainNodeThatIsDownAtStartFailsTheRunNamingItsUrl()
    {
        var stderr = new MemoryStream();
        var started = System.Diagnostics.Stopwatch.StartNew();
        int code = await WwCli.RunAsync(
            ["run", "--port", "0", "--stem", "0x" + new string('a', 40), "--rpc-url", "http://127.0.0.1:1", "--ws-url", "ws://127.0.0.1:1"],
            Io(new MemoryStream(), new MemoryStream(), stderr, TimeSpan.FromSeconds(2))).WaitAsync(Timeout);
        string error = Encoding.UTF8.GetString(stderr.ToArray());
        Assert.Equal(WwCli.HostFailure, code);
        Assert.Contains("error: the chain node at http://127.0.0.1:1/ could not be reached within 2 s", error);
        Assert.True(started.Elapsed >= TimeSpan.FromSeconds(2), $"gave up after {started.Elapsed}");
    }
}
