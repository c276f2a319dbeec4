using System.Diagnostics;
using System.IO.Pipelines;
using System.Security.Cryptography;

namespace Wetware.Ipfs.Tests;

/// <summary>cat, ls and add against a real js-ipfs node; CIDs checked against Debian's ipfs_cid.</summary>
public sealed class UnixFsTests(IpfsNode node) : IClassFixture<IpfsNode>
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1 << 20)]
    public async Task AddedFileCatsBackByteForByteUnderTheCidIpfsCidComputes(int size)
    {
        byte[] data = PatternStream.Bytes(size, (ulong)size + 7);
        using var dir = new TempDir();
        string file = dir.File("data.bin", data);
        (Cid v0, Cid v1) = await IpfsCidTool.ComputeAsync(file);
        using IpfsClient client = node.Client();

        Cid added = await client.AddAsync(new MemoryStream(data));
        Assert.Equal(v0, added);
        Assert.Equal(data, await client.CatBytesAsync("/ipfs/" + added, maxBytes: size));

        // ipfs_cid's CIDv1 is its CIDv0 root re-spelled (the links inside stay CIDv0), while a node adding with
        // cid-version=1 links CIDv1 children: the two agree for a file of one chunk (256 KiB) only. js-ipfs
        // prints CIDv1 in base58btc, ipfs_cid in base32; the CIDs are compared as values.
        Assert.Equal(v0.ToV1(), v1);
        Cid addedV1 = await client.AddAsync(data, new IpfsAddOptions { CidVersion = 1, RawLeaves = false });
        if (size <= 256 << 10)
        {
            Assert.Equal(v1, addedV1);
        }
        else
        {
            Assert.NotEqual(v1, addedV1);
        }
        Assert.Equal(data, await client.CatBytesAsync(addedV1.ToString(), maxBytes: size));
    }

    [Fact]
    public async Task RawLeavesGiveAnotherCidForTheSameBytes()
    {
        byte[] data = PatternStream.Bytes(1000, 3);
        using IpfsClient client = node.Client();
        Cid raw = await client.AddAsync(data, new IpfsAddOptions { CidVersion = 1 });
        // One chunk with raw leaves is a raw block: its CID is the raw codec over the bytes' sha2-256.
        Assert.Equal(Cid.V1(Cid.Raw, [0x12, 0x20, .. SHA256.HashData(data)]), raw);
        Assert.Equal(data, await client.CatBytesAsync(raw.ToString(), 1000));
    }

    [Fact]
    public async Task DirectoryTreeIsOneUnixFsTreeThatLsAndCatWalk()
    {
        using var dir = new TempDir();
        byte[] motd = "hello from the image\n"u8.ToArray();
        byte[] big = PatternStream.Bytes(600_000, 11); // three chunks
        dir.File("etc/motd", motd);
        dir.File("bin/tool.wasm", big);
        dir.File("x", [42]); // a one-character name (js-ipfs's filename parsing needs two; the root prefix gives them)
        dir.File("boot/deep/er/than/this", []);
        Directory.CreateDirectory(Path.Combine(dir.Path, "empty"));
        dir.File("name with spaces+plus%.txt", "odd\n"u8.ToArray());
        using IpfsClient client = node.Client();

        Cid root = await client.AddDirectoryAsync(dir.Path);

        IReadOnlyList<IpfsEntry> top = await client.LsAsync("/ipfs/" + root);
        Assert.Equal(["bin", "boot", "empty", "etc", "name with spaces+plus%.txt", "x"], top.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(IpfsEntryType.Directory, top.Single(e => e.Name == "etc").Type);
        IpfsEntry x = top.Single(e => e.Name == "x");
        Assert.Equal(IpfsEntryType.File, x.Type);
        Assert.Equal(1UL, x.Size);
        Assert.Empty(await client.LsAsync($"/ipfs/{root}/empty"));

        IpfsEntry tool = Assert.Single(await client.LsAsync($"{root}/bin"));
        Assert.Equal(("tool.wasm", 600_000UL, IpfsEntryType.File), (tool.Name, tool.Size, tool.Type));
        Assert.Equal((await IpfsCidTool.ComputeAsync(Path.Combine(dir.Path, "bin/tool.wasm"))).V0, tool.Cid);

        Assert.Equal(motd, await client.CatBytesAsync($"/ipfs/{root}/etc/motd", 1000));
        Assert.Equal(big, await client.CatBytesAsync($"/ipfs/{root}/bin/tool.wasm", big.Length));
        Assert.Equal("odd\n"u8.ToArray(), await client.CatBytesAsync($"/ipfs/{root}/name with spaces+plus%.txt", 100));
        Assert.Empty(await client.CatBytesAsync($"/ipfs/{root}/boot/deep/er/than/this", 0));

        // The same tree added again is the same CID; the local directory's own name is not part of it.
        Assert.Equal(root, await client.AddDirectoryAsync(dir.Path, new IpfsAddOptions { Pin = false }));
    }

    [Fact]
    public async Task IncludeSkipsFilesAndWholeDirectories()
    {
        using var dir = new TempDir();
        dir.File("keep/a", [1]);
        dir.File("skip/b", [2]);
        dir.File("keep/secret.key", [3]);
        using IpfsClient client = node.Client();

        var seen = new List<string>();
        Cid root = await client.AddDirectoryAsync(dir.Path, include: p =>
        {
            seen.Add(p);
            return p != "skip" && !p.EndsWith(".key", StringComparison.Ordinal);
        });

        Assert.Equal(["keep", "keep/a", "keep/secret.key", "skip"], seen.Order(StringComparer.Ordinal));
        Assert.Equal(["keep"], (await client.LsAsync(root.ToString())).Select(e => e.Name));
        Assert.Equal(["a"], (await client.LsAsync($"{root}/keep")).Select(e => e.Name));
    }

    [Fact]
    public async Task CatOverTheLimitFailsCleanlyAndAtTheLimitSucceeds()
    {
        byte[] data = PatternStream.Bytes(300_000, 5);
        using IpfsClient client = node.Client();
        Cid cid = await client.AddAsync(data);

        Assert.Equal(data, await client.CatBytesAsync(cid.ToString(), maxBytes: data.Length));
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.CatBytesAsync(cid.ToString(), maxBytes: data.Length - 1));
        Assert.Equal(IpfsErrorKind.TooLarge, e.Kind);
        Assert.Contains($"limit of {data.Length - 1} bytes", e.Message);

        await using Stream stream = await client.CatAsync(cid.ToString(), maxBytes: 1000);
        var buffer = new byte[4096];
        var e2 = await Assert.ThrowsAsync<IpfsException>(async () =>
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        });
        Assert.Equal(IpfsErrorKind.TooLarge, e2.Kind);
    }

    [Fact]
    public async Task CatToAPipeWriterCopiesEverything()
    {
        byte[] data = PatternStream.Bytes(1 << 20, 9);
        using IpfsClient client = node.Client();
        Cid cid = await client.AddAsync(data);
        var pipe = new Pipe();
        Task<byte[]> reader = Task.Run(async () =>
        {
            var ms = new MemoryStream();
            await pipe.Reader.CopyToAsync(ms);
            return ms.ToArray();
        });

        long n = await client.CatToAsync(cid.ToString(), pipe.Writer);
        await pipe.Writer.CompleteAsync();

        Assert.Equal(data.Length, n);
        Assert.Equal(data, await reader);
    }

    [Fact]
    public async Task ASlowReaderOrWriterIsNotTakenForAStalledNode()
    {
        // The stall timer runs only while we wait on the node: a caller that takes longer than the timeout
        // between two reads (or to produce what we add) is not a timeout.
        byte[] data = PatternStream.Bytes(1 << 20, 13);
        using IpfsClient client = node.Client(TimeSpan.FromSeconds(1));
        Cid cid = await client.AddAsync(new SlowStream(new MemoryStream(data), TimeSpan.FromSeconds(1.5)));

        await using Stream stream = await client.CatAsync(cid.ToString());
        var first = new byte[1000];
        await stream.ReadExactlyAsync(first);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var rest = new MemoryStream();
        await stream.CopyToAsync(rest);
        Assert.Equal(data, first.Concat(rest.ToArray()).ToArray());
    }

    private sealed class SlowStream(Stream inner, TimeSpan pause) : Stream
    {
        private bool _paused;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_paused && inner.Position > 0)
            {
                _paused = true;
                await Task.Delay(pause, cancellationToken);
            }
            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task CatOfAnUnknownCidFailsWithATimeoutInsteadOfHanging()
    {
        // A valid CID of bytes nobody added: js-ipfs would wait for it forever (offline, nobody to ask).
        Cid unknown = Cid.V1(Cid.Raw, [0x12, 0x20, .. SHA256.HashData(Guid.NewGuid().ToByteArray())]);
        using IpfsClient client = node.Client(TimeSpan.FromSeconds(2));
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<IpfsException>(() => client.CatAsync(unknown.ToString()));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal(IpfsErrorKind.Timeout, e.Kind);
        Assert.Contains(node.ApiUrl.ToString(), e.Message);
        Assert.Contains("cat " + unknown, e.Message);

        // The calls with short answers fail the same way, through the node's own timeout= or ours.
        Assert.Equal(IpfsErrorKind.Timeout, (await Assert.ThrowsAsync<IpfsException>(() => client.LsAsync(unknown.ToString()))).Kind);
        Assert.Equal(IpfsErrorKind.Timeout, (await Assert.ThrowsAsync<IpfsException>(() => client.BlockGetAsync(unknown))).Kind);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task AnErrorAnswerBecomesIpfsExceptionWithTheNodesMessage()
    {
        using var dir = new TempDir();
        dir.File("sub/f", [1]);
        using IpfsClient client = node.Client();
        Cid root = await client.AddDirectoryAsync(dir.Path);

        var e = await Assert.ThrowsAsync<IpfsException>(() => client.CatAsync("/ipfs/" + root));
        Assert.Equal(IpfsErrorKind.Node, e.Kind);
        Assert.Contains("this dag node is a directory", e.NodeMessage);
        Assert.Equal(500, e.HttpStatus);
        Assert.Contains($"the IPFS node at {node.ApiUrl} failed cat /ipfs/{root}: ", e.Message);

        var missing = await Assert.ThrowsAsync<IpfsException>(() => client.CatAsync($"/ipfs/{root}/sub/nope"));
        Assert.Equal(IpfsErrorKind.Node, missing.Kind);
        Assert.Contains("does not exist", missing.NodeMessage);

        var invalid = await Assert.ThrowsAsync<IpfsException>(() => client.LsAsync("not-a-cid"));
        Assert.Equal(IpfsErrorKind.Node, invalid.Kind);
        Assert.NotNull(invalid.NodeMessage);
    }

    [Fact]
    public async Task ResolveAndDagResolveWalkAPath()
    {
        using var dir = new TempDir();
        dir.File("a/b/c.txt", "c\n"u8.ToArray());
        using IpfsClient client = node.Client();
        Cid root = await client.AddDirectoryAsync(dir.Path);
        Cid c = (await client.LsAsync($"{root}/a/b")).Single().Cid;

        Assert.Equal("/ipfs/" + c, await client.ResolveAsync($"/ipfs/{root}/a/b/c.txt"));
        DagResolved resolved = await client.DagResolveAsync($"/ipfs/{root}/a/b/c.txt");
        Assert.Equal(c, resolved.Cid);
        Assert.Equal("", resolved.RemainderPath);

        var e = await Assert.ThrowsAsync<IpfsException>(() => client.DagResolveAsync($"/ipfs/{root}/a/nope"));
        Assert.Contains("nope", e.NodeMessage);
    }

    [Fact]
    public async Task IdNamesTheNode()
    {
        using IpfsClient client = node.Client();
        IpfsNodeInfo info = await client.IdAsync();
        Assert.StartsWith("js-ipfs/", info.AgentVersion);
        Assert.NotEmpty(info.PeerId);
    }
}
