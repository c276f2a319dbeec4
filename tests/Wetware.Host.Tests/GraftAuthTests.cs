using Wetware.Capnp.Rpc;
using Wetware.Identity;
using Wetware.Schema;

namespace Wetware.Host.Tests;

/// <summary>Graft authentication with real keys (shared/spec/identity.md): the exact failure texts.</summary>
public sealed class GraftAuthTests : IDisposable
{
    private readonly NodeKey _node = NodeKey.Generate();
    private readonly NodeKey _other = NodeKey.Generate();

    public void Dispose()
    {
        _node.Dispose();
        _other.Dispose();
    }

    /// <summary>A signer (in the test, outside the host) that signs with any key, for any audience and epoch it is told.</summary>
    private sealed class TestSigner(NodeKey key, Func<ulong, ulong>? epochOf = null, byte[]? audience = null, string domain = MembraneServer.GraftDomain) : Signer.Server
    {
        public byte[] Audience = audience ?? [];

        public override ValueTask SignAsync(Signer.SignParams.Reader @params, Signer.SignResults.Builder results, CallContext context)
        {
            ulong seq = epochOf?.Invoke(@params.EpochSeq) ?? @params.EpochSeq;
            results.SetSig(key.Sign(domain, MembraneServer.GraftPayloadType, GraftChallenge.Payload(@params.Nonce, seq, Audience)));
            results.SetPublicKey(key.PublicKey.Protobuf.Span);
            return ValueTask.CompletedTask;
        }
    }

    private static async Task<string> GraftFailure(HostHarness h, Signer.Server signer)
    {
        using Membrane.Client membrane = await h.MembraneAsync();
        using var client = Signer.Client.FromServer(signer);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await membrane.GraftAsync(client));
        Assert.Equal(RpcErrorType.Failed, e.Type);
        return e.Reason;
    }

    [Fact]
    public async Task TheNodesOwnSignerFromIdentityGrafts()
    {
        await using var h = new HostHarness(new NodeKeyIdentity(_node));
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session first = await Session.GraftAsync(membrane);
        using var signerResponse = await first.Identity.SignerAsync(MembraneServer.GraftDomain);
        using Signer.Client signer = signerResponse.GetClient<Signer.Client>(signerResponse.Results.Signer)!;
        using Session second = await Session.GraftAsync(membrane, signer);
        using var id = await second.Host.IdAsync();
        Assert.Equal(_node.PeerId.Bytes.ToArray(), id.Results.PeerId.ToArray());
    }

    [Fact]
    public async Task AnotherKeyIsNotAuthorized()
    {
        await using var h = new HostHarness(new NodeKeyIdentity(_node));
        var signer = new TestSigner(_other) { Audience = _node.PeerId.Bytes.ToArray() };
        Assert.Equal("graft auth failed: key not authorized", await GraftFailure(h, signer));
    }

    [Fact]
    public async Task AKeyOnTheAllowlistMustStillSignCorrectly()
    {
        var allow = _other.PublicKey.Protobuf.ToArray();
        await using var h = new HostHarness(new NodeKeyIdentity(_node), new GraftPolicy(SignerRequired: true, pk => pk.Span.SequenceEqual(allow)));
        using (Membrane.Client membrane = await h.MembraneAsync())
        using (var good = Signer.Client.FromServer(new TestSigner(_other) { Audience = _node.PeerId.Bytes.ToArray() }))
        using (Session s = await Session.GraftAsync(membrane, good))
        {
            using var echo = await s.Executor.EchoAsync("allowed");
        }
        // The node's own key is not on this membrane's allowlist.
        Assert.Equal("graft auth failed: key not authorized",
            await GraftFailure(h, new TestSigner(_node) { Audience = _node.PeerId.Bytes.ToArray() }));
    }

    [Fact]
    public async Task ASignatureFromAnOldEpochIsAReplayAndFails()
    {
        await using var h = new HostHarness(new NodeKeyIdentity(_node));
        h.Epochs.Advance(new EpochInfo(5, ReadOnlyMemory<byte>.Empty, 0));
        var replay = new TestSigner(_node, seq => seq - 1) { Audience = _node.PeerId.Bytes.ToArray() };
        Assert.Equal("graft auth failed: signature verification failed", await GraftFailure(h, replay));
    }

    [Fact]
    public async Task ASignatureMadeForAnotherAudienceIsRelayedAndFails()
    {
        await using var h = new HostHarness(new NodeKeyIdentity(_node));
        var relayed = new TestSigner(_node) { Audience = _other.PeerId.Bytes.ToArray() };
        Assert.Equal("graft auth failed: signature verification failed", await GraftFailure(h, relayed));
    }

    [Fact]
    public async Task ASignatureInAnotherDomainFails()
    {
        await using var h = new HostHarness(new NodeKeyIdentity(_node));
        var wrongDomain = new TestSigner(_node, domain: "some-other-purpose") { Audience = _node.PeerId.Bytes.ToArray() };
        Assert.Equal("graft auth failed: signature verification failed", await GraftFailure(h, wrongDomain));
    }

    [Fact]
    public async Task IdentityVerifyChecksSignaturesOfAnyKey()
    {
        await using var h = new HostHarness(new NodeKeyIdentity(_node));
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        byte[] payload = [1, 2, 3];
        byte[] sig = _other.Sign("my-domain", MembraneServer.GraftPayloadType, payload);
        var req = s.Identity.NewVerify();
        Schema.Identity.VerifyParams.Builder p = req.Params;
        p.SetDomain("my-domain");
        p.SetPayload(payload);
        p.SetSig(sig);
        p.SetPublicKey(_other.PublicKey.Protobuf.Span);
        using (var r = await req.Send())
        {
            Assert.True(r.Results.Valid);
        }
        using var bad = await s.Identity.VerifyAsync("my-domain", [1, 2, 4], sig, _other.PublicKey.Protobuf.Span);
        Assert.False(bad.Results.Valid);
    }
}
