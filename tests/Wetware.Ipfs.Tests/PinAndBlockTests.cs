using System.Security.Cryptography;

namespace Wetware.Ipfs.Tests;

public sealed class PinAndBlockTests(IpfsNode node) : IClassFixture<IpfsNode>
{
    [Fact]
    public async Task AnAddedTreeIsPinnedListedAndUnpinned()
    {
        using var dir = new TempDir();
        dir.File("etc/motd", "pinned\n"u8.ToArray());
        using IpfsClient client = node.Client();
        Cid root = await client.AddDirectoryAsync(dir.Path, new IpfsAddOptions { Pin = false });
        Assert.DoesNotContain(root, await client.PinLsAsync());

        await client.PinAddAsync("/ipfs/" + root);
        Assert.Contains(root, await client.PinLsAsync());
        Assert.Contains(root, await client.PinLsAsync("all"));

        await client.PinRmAsync(root.ToString());
        Assert.DoesNotContain(root, await client.PinLsAsync());

        var e = await Assert.ThrowsAsync<IpfsException>(() => client.PinRmAsync(root.ToString()));
        Assert.Equal(IpfsErrorKind.Node, e.Kind);
        Assert.Contains("not pinned", e.NodeMessage);
    }

    [Fact]
    public async Task OnlyHashGivesTheCidOfATreeWithoutStoringIt()
    {
        using var dir = new TempDir();
        dir.File("etc/motd", RandomNumberGenerator.GetBytes(64));
        using IpfsClient client = node.Client();
        Cid hashed = await client.AddDirectoryAsync(dir.Path, new IpfsAddOptions { OnlyHash = true });
        Assert.DoesNotContain(hashed, await client.PinLsAsync());
        // The offline node has no copy: a read fails (or times out) instead of answering.
        using (var soon = new CancellationTokenSource(TimeSpan.FromSeconds(3)))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => client.CatBytesAsync("/ipfs/" + hashed + "/etc/motd", 1024, soon.Token));
        }
        Assert.Equal(hashed, await client.AddDirectoryAsync(dir.Path));
        Assert.Equal(64, (await client.CatBytesAsync("/ipfs/" + hashed + "/etc/motd", 1024)).Length);
    }

    [Fact]
    public async Task AddPinsByDefaultAndAPathUnderACidCanBePinned()
    {
        using var dir = new TempDir();
        dir.File("sub/f", "f\n"u8.ToArray());
        using IpfsClient client = node.Client();
        Cid root = await client.AddDirectoryAsync(dir.Path);
        Assert.Contains(root, await client.PinLsAsync());

        // js-ipfs takes only a CID here; the client resolves the path first.
        await client.PinAddAsync($"/ipfs/{root}/sub");
        Cid sub = (await client.LsAsync(root.ToString())).Single().Cid;
        Assert.Contains(sub, await client.PinLsAsync());
        await client.PinRmAsync($"/ipfs/{root}/sub");
        Assert.DoesNotContain(sub, await client.PinLsAsync());
    }

    [Fact]
    public async Task BlockPutThenGetRoundTripsUnderItsRawCid()
    {
        byte[] data = PatternStream.Bytes(10_000, 21);
        using IpfsClient client = node.Client();

        Cid cid = await client.BlockPutAsync(data);

        Assert.Equal(Cid.V1(Cid.Raw, [0x12, 0x20, .. SHA256.HashData(data)]), cid);
        Assert.Equal(data, await client.BlockGetAsync(cid));
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.BlockGetAsync(cid, maxBytes: 9_999));
        Assert.Equal(IpfsErrorKind.TooLarge, e.Kind);
        Assert.Empty(await client.BlockGetAsync(await client.BlockPutAsync(Array.Empty<byte>())));
    }
}
