using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Wetware.Ipfs.Tests;

/// <summary>A node that is not there, or goes away mid-run: every call fails clearly, none hangs.</summary>
public sealed class NodeGoneTests
{
    [Fact]
    public async Task NoNodeAtTheUrlIsACannotReachError()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var url = new Uri($"http://127.0.0.1:{port}");
        using var client = new IpfsClient(new IpfsClientOptions { ApiUrl = url, Timeout = TimeSpan.FromSeconds(5) });

        var e = await Assert.ThrowsAsync<IpfsException>(() => client.CatAsync("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"));

        Assert.Equal(IpfsErrorKind.Unreachable, e.Kind);
        Assert.StartsWith($"cannot reach the IPFS node at {url}", e.Message);
        Assert.Equal(url, e.Url);
        Assert.Equal(IpfsErrorKind.Unreachable, (await Assert.ThrowsAsync<IpfsException>(() => client.PinLsAsync())).Kind);
        Assert.Equal(IpfsErrorKind.Unreachable, (await Assert.ThrowsAsync<IpfsException>(() => client.AddAsync(new byte[10]))).Kind);
    }

    [Fact]
    public async Task CallsAfterTheNodeStoppedSayItCannotBeReached()
    {
        await using IpfsNode node = await IpfsNode.StartAsync();
        using IpfsClient client = node.Client(TimeSpan.FromSeconds(5));
        Cid cid = await client.AddAsync("still here\n"u8.ToArray());
        Assert.Equal("still here\n"u8.ToArray(), await client.CatBytesAsync(cid.ToString(), 100));

        await node.StopAsync();

        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.CatBytesAsync(cid.ToString(), 100));
        Assert.Equal(IpfsErrorKind.Unreachable, e.Kind);
        Assert.Contains($"cannot reach the IPFS node at {node.ApiUrl}", e.Message);
        Assert.Equal(IpfsErrorKind.Unreachable, (await Assert.ThrowsAsync<IpfsException>(() => client.LsAsync(cid.ToString()))).Kind);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task ANodeKilledMidCatFailsTheRead()
    {
        await using IpfsNode node = await IpfsNode.StartAsync();
        using IpfsClient client = node.Client(TimeSpan.FromSeconds(5));
        const long size = 64 << 20;
        Cid cid = await client.AddAsync(new PatternStream(size, 1));
        await using Stream stream = await client.CatAsync(cid.ToString());
        var buffer = new byte[64 << 10];
        await stream.ReadExactlyAsync(buffer);

        node.Kill();

        var e = await Assert.ThrowsAsync<IpfsException>(async () =>
        {
            long total = buffer.Length;
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                total += n;
            }
            Assert.Fail($"the whole {total} bytes arrived from a killed node");
        });
        Assert.Equal(IpfsErrorKind.Unreachable, e.Kind);
        Assert.Contains($"lost the IPFS node at {node.ApiUrl} during cat {cid}", e.Message);
    }
}
