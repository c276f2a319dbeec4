using Wetware.Identity;

namespace Wetware.P2p.Tests;

/// <summary>Multiaddrs in text and binary, against the multiaddr spec's encodings.</summary>
public class MultiaddrTests
{
    [Theory]
    [InlineData("/ip4/127.0.0.1/tcp/4001", "047f000001060fa1")]
    [InlineData("/ip4/0.0.0.0/tcp/0", "040000000006" + "0000")]
    [InlineData("/ip6/::1/tcp/80", "2900000000000000000000000000000001060050")]
    [InlineData("/ip6/2001:db8::42/tcp/65535", "2920010db8000000000000000000000042" + "06ffff")]
    [InlineData("/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb")]
    [InlineData("/dns6/localhost/tcp/1", "37096c6f63616c686f7374060001")]
    [InlineData("/dns/a.b/tcp/2", "3503612e62060002")]
    [InlineData("/ip4/1.2.3.4/udp/53/quic-v1", "0401020304" + "91020035" + "cd03")]
    [InlineData("/p2p-circuit", "a202")]
    public void TextAndBinaryRoundTrip(string text, string hex)
    {
        Multiaddr fromText = Multiaddr.Parse(text);
        Assert.Equal(hex, Convert.ToHexStringLower(fromText.Bytes.Span));
        Multiaddr fromBytes = Multiaddr.FromBytes(Convert.FromHexString(hex));
        Assert.Equal(text, fromBytes.ToString());
        Assert.Equal(fromText, fromBytes);
    }

    [Fact]
    public void PeerIdComponentIsTheMultihash()
    {
        using NodeKey key = NodeKey.Generate();
        Multiaddr a = Multiaddr.Parse($"/ip4/10.0.0.1/tcp/4001/p2p/{key.PeerId}");
        Assert.Equal(key.PeerId, a.PeerId);
        Assert.Equal("/ip4/10.0.0.1/tcp/4001", a.WithoutPeerId().ToString());
        Assert.Equal(a, a.WithoutPeerId().WithPeerId(key.PeerId));
        // Code 421 (0xa5 0x03), the multihash length, the multihash.
        byte[] bytes = a.Bytes.ToArray();
        Assert.Equal([0xa5, 0x03, (byte)key.PeerId.Bytes.Length], bytes[8..11]);
        Assert.Equal(key.PeerId.Bytes.ToArray(), bytes[11..]);
        // The old name and the CID form are read; the canonical text is written.
        Assert.Equal(a, Multiaddr.Parse($"/ip4/10.0.0.1/tcp/4001/ipfs/{key.PeerId}"));
        Assert.Equal(a, Multiaddr.Parse($"/ip4/10.0.0.1/tcp/4001/p2p/{key.PeerId.ToCidString()}"));
        Assert.Null(a.WithoutPeerId().PeerId);
    }

    [Fact]
    public void ALegacyQmPeerIdParses()
    {
        Multiaddr a = Multiaddr.Parse("/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC");
        Assert.Equal("a503221220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b", Convert.ToHexStringLower(a.Bytes.Span));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("ip4/1.2.3.4", "starts with '/'")]
    [InlineData("/ip4/1.2.3", "dotted-quad")]
    [InlineData("/ip4/1.2.3.256", "dotted-quad")]
    [InlineData("/ip4/01.2.3.4", "dotted-quad")]
    [InlineData("/ip6/1.2.3.4", "IPv6")]
    [InlineData("/ip6/fe80::1%eth0", "IPv6")]
    [InlineData("/tcp/65536", "port")]
    [InlineData("/tcp/-1", "port")]
    [InlineData("/tcp/08", "port")]
    [InlineData("/ip4/1.2.3.4/tcp", "needs a value")]
    [InlineData("/foo/1", "unknown protocol 'foo'")]
    [InlineData("/p2p/notapeerid", "not a Peer ID")]
    [InlineData("//tcp/1", "empty protocol name")]
    public void BadTextSaysWhy(string text, string reason)
    {
        var e = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.Parse(text));
        Assert.Contains(reason, e.Reason);
        Assert.False(Multiaddr.TryParse(text, out _));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("04010203", "truncated")]
    [InlineData("0601", "truncated")]
    [InlineData("ff", "malformed protocol code")]
    [InlineData("8080808080808080808001", "malformed protocol code")]
    [InlineData("63", "unknown protocol code 0x63")]
    [InlineData("3605616263", "truncated")]
    [InlineData("3600", "empty name")]
    [InlineData("36022f61", "without '/'")]
    [InlineData("a50302abcd", "Peer ID")]
    public void BadBytesSayWhy(string hex, string reason)
    {
        var e = Assert.Throws<MultiaddrFormatException>(() => Multiaddr.FromBytes(Convert.FromHexString(hex)));
        Assert.Contains(reason, e.Reason);
    }

    [Fact]
    public void EndPointsBecomeAddresses()
    {
        Assert.Equal("/ip4/127.0.0.1/tcp/5", Multiaddr.FromEndPoint(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 5)).ToString());
        Assert.Equal("/ip4/127.0.0.1/tcp/5", Multiaddr.FromEndPoint(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback.MapToIPv6(), 5)).ToString());
        Assert.Equal("/ip6/::1/tcp/6", Multiaddr.FromEndPoint(new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, 6)).ToString());
    }

    [Fact]
    public void EncapsulateJoins()
    {
        Multiaddr a = Multiaddr.Parse("/ip4/1.2.3.4").Encapsulate(Multiaddr.Parse("/tcp/5"));
        Assert.Equal("/ip4/1.2.3.4/tcp/5", a.ToString());
        Assert.Equal(2, a.Components.Count);
        Assert.Equal(new MultiaddrComponent("tcp", "5"), a.Components[1]);
    }
}
