using Wetware.Ipfs;
using Wetware.Ipfs.Tests;

namespace Wetware.GuestSdk.Tests;

/// <summary>
/// The ipfs capability end to end: a C guest calls <c>ipfs.unixfs()</c> (cat, ls, add) through the real host,
/// which talks to a real js-ipfs node (tests/interop/ipfs) over its HTTP RPC API.
/// </summary>
public sealed class HostIpfsTests(EngineFixture fixture, IpfsNode node) : IClassFixture<EngineFixture>, IClassFixture<IpfsNode>
{
    [Fact]
    public async Task AGuestCatsSixteenMebibytesListsADirectoryAndAddsText()
    {
        using IpfsClient client = node.Client();
        byte[] big = PatternStream.Bytes(16 << 20, 16);
        Cid file = await client.AddAsync(big);
        string dir = Directory.CreateTempSubdirectory("ww-ipfs-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "etc"));
            File.WriteAllText(Path.Combine(dir, "etc", "motd"), "hello\n");
            File.WriteAllText(Path.Combine(dir, "readme"), "read me\n");
            Cid tree = await client.AddDirectoryAsync(dir);

            await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e",
                ["ipfs", $"cat:/ipfs/{file}", $"ls:/ipfs/{tree}", $"cat:/ipfs/{tree}/etc/motd", "add:written by a guest"], ipfs: client);
            GuestResult r = await g.CompletionAsync();

            Assert.True(r.ExitCode == 0, r.ToString());
            string[] lines = r.Stdout.Split('\n');
            Assert.Equal($"cat={big.Length} sum={big.Sum(b => (long)b)}", lines[0]);
            Assert.StartsWith("ls=etc:dir:", lines[1]); // a directory's size differs between js-ipfs (0) and Kubo (cumulative)
            Assert.EndsWith(",readme:file:8", lines[1]);
            Assert.Equal($"cat=6 sum={"hello\n"u8.ToArray().Sum(b => (long)b)}", lines[2]);
            Assert.StartsWith("added=/ipfs/", lines[3]);
            // What the guest added is on the node.
            byte[] back = await client.CatBytesAsync(lines[3]["added=".Length..], 1024);
            Assert.Equal("written by a guest", System.Text.Encoding.UTF8.GetString(back));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ContentOverTheMessageLimitFailsNamingTheLimit()
    {
        using IpfsClient client = node.Client();
        Cid huge = await client.AddAsync(new PatternStream(65L << 20, 65));
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["ipfs", $"cat:/ipfs/{huge}", "add:still fine"], ipfs: client);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.StartsWith("0:ipfs cat: ", v["cat-error"]);
        Assert.Contains("the limit is 64 MiB", v["cat-error"]);
        Assert.StartsWith("/ipfs/", v["added"]); // the session goes on
    }

    [Fact]
    public async Task TheNodeStoppedMidRunFailsCallsDisconnectedAndTheGuestGoesOn()
    {
        await using IpfsNode own = await IpfsNode.StartAsync(); // this test stops its node
        using IpfsClient client = own.Client(TimeSpan.FromSeconds(5));
        Cid file = await client.AddAsync("before the stop"u8.ToArray());
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["ipfs", $"cat:/ipfs/{file}", "wait", $"cat:/ipfs/{file}"], ipfs: client);
        await g.LineAsync("waiting=3");
        await own.StopAsync();
        await g.WriteStdinAsync("go\n");
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        string[] lines = r.Stdout.Split('\n');
        Assert.StartsWith("cat=15 ", lines[0]);
        Assert.StartsWith("cat-error=2:ipfs cat: ", lines[2]); // disconnected, naming the node
        Assert.Contains(own.ApiUrl.ToString().TrimEnd('/'), lines[2]);
    }

    [Fact]
    public async Task WithNoNodeTheCallsFailDisconnectedNamingTheUrl()
    {
        using var nobody = new IpfsClient(new IpfsClientOptions { ApiUrl = new Uri("http://127.0.0.1:1"), Timeout = TimeSpan.FromSeconds(5) });
        await using RealHostGuest g = await RealHostGuest.StartAsync(fixture, "e2e", ["ipfs", "cat:/ipfs/bafkqaaa", "add:x"], ipfs: nobody);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.StartsWith("2:ipfs cat: ", v["cat-error"]);
        Assert.Contains("http://127.0.0.1:1", v["cat-error"]);
        Assert.StartsWith("2:ipfs add: ", v["add-error"]);
    }
}
