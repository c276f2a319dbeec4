using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Wetware.P2p.Tests;

/// <summary>multistream-select 1.0.0 byte by byte, as dialer and as listener.</summary>
public class MultistreamTests
{
    private static byte[] Message(string text) => [(byte)(text.Length + 1), .. Encoding.ASCII.GetBytes(text), (byte)'\n'];

    [Fact]
    public async Task DialerSendsHeaderAndProposalAtOnce()
    {
        var pair = new DuplexPair();
        Task<string> select = Multistream.SelectAsync(pair.A, ["/noise"], CancellationToken.None);
        ReadResult sent = await pair.B.Input.ReadAsync();
        Assert.Equal([.. Message("/multistream/1.0.0"), .. Message("/noise")], sent.Buffer.ToArray());
        pair.B.Input.AdvanceTo(sent.Buffer.End);
        await pair.B.Output.WriteAsync((byte[])[.. Message("/multistream/1.0.0"), .. Message("/noise"), 0xAB]);
        Assert.Equal("/noise", await select);
        // What follows the answer belongs to the negotiated protocol and stays in the reader.
        ReadResult rest = await pair.A.Input.ReadAsync();
        Assert.Equal([0xAB], rest.Buffer.ToArray());
    }

    [Fact]
    public async Task DialerTriesTheNextProtocolAfterNa()
    {
        var pair = new DuplexPair();
        Task<string> select = Multistream.SelectAsync(pair.A, ["/a/1", "/b/1"], CancellationToken.None);
        await pair.B.Output.WriteAsync((byte[])[.. Message("/multistream/1.0.0"), .. Message("na")]);
        await Task.Delay(50);
        await pair.B.Output.WriteAsync(Message("/b/1"));
        Assert.Equal("/b/1", await select);
        ReadResult sent = await pair.B.Input.ReadAsync();
        Assert.Equal([.. Message("/multistream/1.0.0"), .. Message("/a/1"), .. Message("/b/1")], sent.Buffer.ToArray());
    }

    [Fact]
    public async Task DialerFailsWhenEveryProtocolIsRefused()
    {
        var pair = new DuplexPair();
        Task<string> select = Multistream.SelectAsync(pair.A, ["/a/1"], CancellationToken.None);
        await pair.B.Output.WriteAsync((byte[])[.. Message("/multistream/1.0.0"), .. Message("na")]);
        var e = await Assert.ThrowsAsync<P2pException>(() => select);
        Assert.Equal(P2pError.ProtocolNotSupported, e.Error);
    }

    [Fact]
    public async Task ListenerAnswersAPipeliningDialerWithHeaderAndAnswerInOneWrite()
    {
        var pair = new DuplexPair();
        await pair.A.Output.WriteAsync((byte[])[.. Message("/multistream/1.0.0"), .. Message("/b/1")]);
        Assert.Equal("/b/1", await Multistream.ListenAsync(pair.B, p => p == "/b/1", () => ["/b/1"], CancellationToken.None));
        ReadResult answer = await pair.A.Input.ReadAsync();
        Assert.Equal([.. Message("/multistream/1.0.0"), .. Message("/b/1")], answer.Buffer.ToArray());
    }

    [Fact]
    public async Task ListenerSendsItsHeaderToADialerThatWaitsForItBeforeProposing()
    {
        var pair = new DuplexPair();
        Task<string> listen = Multistream.ListenAsync(pair.B, p => p == "/b/1", () => ["/b/1"], CancellationToken.None);
        await pair.A.Output.WriteAsync(Message("/multistream/1.0.0"));
        ReadResult header = await pair.A.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(Message("/multistream/1.0.0"), header.Buffer.ToArray());
        pair.A.Input.AdvanceTo(header.Buffer.End);
        await pair.A.Output.WriteAsync(Message("/b/1"));
        Assert.Equal("/b/1", await listen);
    }

    [Fact]
    public async Task ListenerAnswersNaThenAcceptsAndListsWithLs()
    {
        var pair = new DuplexPair();
        Task<string> listen = Multistream.ListenAsync(pair.B, p => p == "/b/1", () => ["/b/1", "/c/1"], CancellationToken.None);
        await pair.A.Output.WriteAsync((byte[])[.. Message("/multistream/1.0.0"), .. Message("ls"), .. Message("/a/1"), .. Message("/b/1")]);
        Assert.Equal("/b/1", await listen);
        ReadResult answer = await pair.A.Input.ReadAsync();
        byte[] list = [.. Message("/b/1"), .. Message("/c/1"), (byte)'\n'];
        Assert.Equal(
            [.. Message("/multistream/1.0.0"), (byte)list.Length, .. list, .. Message("na"), .. Message("/b/1")],
            answer.Buffer.ToArray());
    }

    [Fact]
    public async Task ListenerRefusesAnEndlessRowOfProposals()
    {
        var pair = new DuplexPair();
        Task<string> listen = Multistream.ListenAsync(pair.B, _ => false, () => [], CancellationToken.None);
        var proposals = new List<byte>(Message("/multistream/1.0.0"));
        for (int i = 0; i < Multistream.MaxProposals + 1; i++)
        {
            proposals.AddRange(Message($"/x/{i}"));
        }
        await pair.A.Output.WriteAsync(proposals.ToArray());
        var e = await Assert.ThrowsAsync<P2pException>(() => listen);
        Assert.Contains("proposals", e.Reason);
    }

    [Theory]
    [InlineData(new byte[] { 0x80 }, "")]
    [InlineData(new byte[] { 0x13, (byte)'/', (byte)'m' }, "")]
    public async Task AnIncompleteMessageWaits(byte[] partial, string unused)
    {
        _ = unused;
        var pair = new DuplexPair();
        Task<string> listen = Multistream.ListenAsync(pair.B, _ => true, () => [], CancellationToken.None);
        await pair.A.Output.WriteAsync(partial);
        await Task.Delay(50);
        Assert.False(listen.IsCompleted);
        await pair.A.Output.CompleteAsync();
        var e = await Assert.ThrowsAsync<P2pException>(() => listen);
        Assert.Equal(P2pError.Closed, e.Error);
    }

    [Fact]
    public async Task NonUtf8IsRefused()
    {
        var pair = new DuplexPair();
        Task<string> listen = Multistream.ListenAsync(pair.B, _ => true, () => [], CancellationToken.None);
        await pair.A.Output.WriteAsync((byte[])[.. Message("/multistream/1.0.0"), 3, 0xff, 0xfe, (byte)'\n']);
        var e = await Assert.ThrowsAsync<P2pException>(() => listen);
        Assert.Contains("UTF-8", e.Reason);
    }
}
