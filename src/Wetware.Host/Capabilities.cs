using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Wetware.Capnp.Rpc;
using Wetware.Cells;
using Wetware.Schema;

namespace Wetware.Host;

/// <summary>
/// The Membrane a guest grafts onto (shared/spec/interfaces.md): <c>graft</c> gives the session's four
/// capabilities, each guarded by the epoch it was made in; <c>epoch</c> tells the current one.
/// </summary>
internal sealed class MembraneServer(HostContext host, GraftPolicy policy, GuestSession? owner) : Membrane.Server
{
    public const string GraftDomain = "ww-membrane-graft";
    public const string GraftPayloadType = "/ww/membrane/graft-nonce";

    public override async ValueTask GraftAsync(Membrane.GraftParams.Reader @params, Membrane.GraftResults.Builder results, CallContext context)
    {
        ulong seq = host.Epochs.Current.Seq;
        using Signer.Client? signer = context.GetParamClient<Signer.Client>(@params.Signer);
        if (signer is null)
        {
            if (policy.SignerRequired)
            {
                throw new RpcException(RpcErrorType.Failed, "graft auth failed: missing signer");
            }
        }
        else
        {
            await AuthenticateAsync(signer, seq, context.CancellationToken).ConfigureAwait(false);
        }
        EpochSource epochs = host.Epochs;
        using Capability identity = epochs.Guard(new IdentityServer(host), seq);
        using Capability node = epochs.Guard(new HostServer(host, policy, owner, seq), seq);
        using Capability executor = epochs.Guard(new ExecutorServer(host, policy, owner, seq), seq);
        using Capability ipfs = epochs.Guard(new IpfsServer(host.Ipfs), seq);
        results.Identity = context.AddResultCapability(identity);
        results.Host = context.AddResultCapability(node);
        results.Executor = context.AddResultCapability(executor);
        results.Ipfs = context.AddResultCapability(ipfs);
    }

    /// <summary>Challenges the signer with a fresh nonce and the current epoch (shared/spec/identity.md), or fails with the exact texts.</summary>
    private async Task AuthenticateAsync(Signer.Client signer, ulong seq, CancellationToken cancellationToken)
    {
        ulong nonce = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(host.SignerTimeout);
        Response<Signer.SignResults.Reader> signed;
        try
        {
            signed = await signer.SignAsync(nonce, seq, timeout.Token).AsTask().WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RpcException(RpcErrorType.Failed, "graft auth failed: signer did not answer");
        }
        catch (RpcException)
        {
            throw new RpcException(RpcErrorType.Failed, "graft auth failed: signature verification failed");
        }
        using (signed)
        {
            ReadOnlyMemory<byte> publicKey = signed.Results.PublicKey.ToArray();
            bool accepted = policy.Accepts?.Invoke(publicKey) ?? publicKey.Span.SequenceEqual(host.Identity.PublicKey.Span);
            if (!accepted)
            {
                throw new RpcException(RpcErrorType.Failed, "graft auth failed: key not authorized");
            }
            byte[] payload = GraftPayload(nonce, seq, host.Identity.PeerId.Span);
            if (!host.Identity.Verify(publicKey.Span, GraftDomain, GraftPayloadType, payload, signed.Results.Sig.Span))
            {
                throw new RpcException(RpcErrorType.Failed, "graft auth failed: signature verification failed");
            }
        }
    }

    /// <summary>nonce (8 bytes BE) || epochSeq (8 bytes BE) || audience (a binary Peer ID).</summary>
    public static byte[] GraftPayload(ulong nonce, ulong epochSeq, ReadOnlySpan<byte> audience)
    {
        var payload = new byte[16 + audience.Length];
        BinaryPrimitives.WriteUInt64BigEndian(payload, nonce);
        BinaryPrimitives.WriteUInt64BigEndian(payload.AsSpan(8), epochSeq);
        audience.CopyTo(payload.AsSpan(16));
        return payload;
    }

    public override ValueTask EpochAsync(Membrane.EpochParams.Reader @params, Membrane.EpochResults.Builder results, CallContext context)
    {
        EpochInfo e = host.Epochs.Current;
        Epoch.Builder epoch = results.InitEpoch();
        epoch.Seq = e.Seq;
        epoch.SetHead(e.Head.Span);
        epoch.AdoptedBlock = e.AdoptedBlock;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Identity: signers bound to one domain (the key stays in the host), and verification.</summary>
internal sealed class IdentityServer(HostContext host) : Schema.Identity.Server
{
    public override ValueTask SignerAsync(Schema.Identity.SignerParams.Reader @params, Schema.Identity.SignerResults.Builder results, CallContext context)
    {
        string domain = @params.Domain.ToString();
        if (domain.Length == 0)
        {
            throw new RpcException(RpcErrorType.Failed, "signer: the domain must not be empty");
        }
        using var signer = Signer.Client.FromServer(new SignerServer(host, domain));
        results.Signer = context.AddResultCapability(signer);
        return ValueTask.CompletedTask;
    }

    public override ValueTask VerifyAsync(Schema.Identity.VerifyParams.Reader @params, Schema.Identity.VerifyResults.Builder results, CallContext context)
    {
        results.Valid = host.Identity.Verify(@params.PublicKey.Span, @params.Domain.ToString(), MembraneServer.GraftPayloadType, @params.Payload.Span, @params.Sig.Span);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Signs graft challenges in one domain with the node key; the audience is filled in here, never by the caller.</summary>
internal sealed class SignerServer(HostContext host, string domain) : Signer.Server
{
    public override ValueTask SignAsync(Signer.SignParams.Reader @params, Signer.SignResults.Builder results, CallContext context)
    {
        // The audience is the node the sign call came from (shared/spec/identity.md): the peer at the other end
        // of the network connection it arrived over, or this node itself for a call from one of our guests. A
        // challenge relayed through a third node is thus signed for that node, and the challenger refuses it.
        ReadOnlyMemory<byte> audience = context.Caller is Identity.PeerId peer ? peer.Bytes : host.Identity.PeerId;
        byte[] payload = MembraneServer.GraftPayload(@params.Nonce, @params.EpochSeq, audience.Span);
        results.SetSig(host.Identity.Sign(domain, MembraneServer.GraftPayloadType, payload));
        results.SetPublicKey(host.Identity.PublicKey.Span);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Host: this node and its libp2p node (shared/spec/interfaces.md, shared/spec/network.md).</summary>
internal sealed class HostServer(HostContext host, GraftPolicy policy, GuestSession? owner, ulong seq) : Schema.Host.Server
{
    public override ValueTask IdAsync(Schema.Host.IdParams.Reader @params, Schema.Host.IdResults.Builder results, CallContext context)
    {
        results.SetPeerId(host.Identity.PeerId.Span);
        return ValueTask.CompletedTask;
    }

    public override ValueTask AddrsAsync(Schema.Host.AddrsParams.Reader @params, Schema.Host.AddrsResults.Builder results, CallContext context)
    {
        // Dialable addresses: the listen addresses with wildcards replaced by this machine's interface addresses.
        IReadOnlyList<P2p.Multiaddr> addrs = host.Node?.Addresses ?? [];
        Capnp.DataListBuilder list = results.InitAddrs(addrs.Count);
        for (int i = 0; i < addrs.Count; i++)
        {
            list.Set(i, addrs[i].Bytes.Span);
        }
        return ValueTask.CompletedTask;
    }

    public override ValueTask PeersAsync(Schema.Host.PeersParams.Reader @params, Schema.Host.PeersResults.Builder results, CallContext context)
    {
        var peers = (host.Node?.Connections ?? [])
            .Where(c => !c.IsClosed)
            .GroupBy(c => c.RemotePeer)
            .Select(g => (Peer: g.Key, Addrs: g.Select(c => c.RemoteAddress)
                .Concat(g.SelectMany(c => c.RemoteIdentify?.ListenAddresses ?? []))
                .Distinct()
                .ToList()))
            .ToList();
        Capnp.StructListBuilder<PeerInfo.Builder> list = results.InitPeers(peers.Count);
        for (int i = 0; i < peers.Count; i++)
        {
            PeerInfo.Builder info = list[i];
            info.SetPeerId(peers[i].Peer.Bytes.Span);
            Capnp.DataListBuilder addrs = info.InitAddrs(peers[i].Addrs.Count);
            for (int j = 0; j < peers[i].Addrs.Count; j++)
            {
                addrs.Set(j, peers[i].Addrs[j].Bytes.Span);
            }
        }
        return ValueTask.CompletedTask;
    }

    public override async ValueTask ConnectAsync(Schema.Host.ConnectParams.Reader @params, Schema.Host.ConnectResults.Builder results, CallContext context)
    {
        P2p.P2pNode node = Node("connect");
        Identity.PeerId peer = NodeCalls.ParsePeer("connect", @params.PeerId.Span);
        List<P2p.Multiaddr> addrs = NodeCalls.ParseAddrs("connect", @params.Addrs);
        await NodeCalls.ConnectAsync(node, "connect", peer, addrs, context.CancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask DialAsync(Schema.Host.DialParams.Reader @params, Schema.Host.DialResults.Builder results, CallContext context)
    {
        P2p.P2pNode node = Node("dial");
        Identity.PeerId peer = NodeCalls.ParsePeer("dial", @params.PeerId.Span);
        List<P2p.Multiaddr> addrs = NodeCalls.ParseAddrs("dial", @params.Addrs);
        P2p.PeerConnection connection = await NodeCalls.ConnectAsync(node, "dial", peer, addrs, context.CancellationToken).ConfigureAwait(false);
        using Capability remote = await NodeCalls.DialAsync(connection, host.DialTimeout, host.Logger, context.CancellationToken).ConfigureAwait(false);
        using Capability guarded = host.Epochs.Guard(remote, seq);
        results.Cap = context.AddResultCapability(guarded);
    }

    private P2p.P2pNode Node(string method) =>
        host.Node ?? throw new RpcException(RpcErrorType.Unimplemented, $"host.{method}: this host runs no libp2p node");

    public override ValueTask ExecutorAsync(Schema.Host.ExecutorParams.Reader @params, Schema.Host.ExecutorResults.Builder results, CallContext context)
    {
        using Capability executor = host.Epochs.Guard(new ExecutorServer(host, policy, owner, seq), seq);
        results.Executor = context.AddResultCapability(executor);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Executor: starts child guests (shared/spec/interfaces.md).</summary>
internal sealed class ExecutorServer(HostContext host, GraftPolicy policy, GuestSession? owner, ulong seq) : Executor.Server
{
    public override ValueTask EchoAsync(Executor.EchoParams.Reader @params, Executor.EchoResults.Builder results, CallContext context)
    {
        results.SetResponse(@params.Message.ToString());
        return ValueTask.CompletedTask;
    }

    public override async ValueTask RunBytesAsync(Executor.RunBytesParams.Reader @params, Executor.RunBytesResults.Builder results, CallContext context)
    {
        // The child grafts to the same authority as the caller's session.
        using Capability membrane = Capability.FromServer(new MembraneServer(host, policy, null));
        results.Process = await StartAsync("runBytes", @params.Wasm, @params.Args, @params.Env, membrane, context).ConfigureAwait(false);
    }

    public override async ValueTask SpawnAsync(Executor.SpawnParams.Reader @params, Executor.SpawnResults.Builder results, CallContext context)
    {
        // The child's bootstrap is exactly what was given: this is how a parent attenuates.
        using Capability? given = @params.Bootstrap is uint index ? context.GetParamCapability(index) : null;
        results.Process = await StartAsync("spawn", @params.Wasm, @params.Args, @params.Env, given, context).ConfigureAwait(false);
    }

    private async Task<uint> StartAsync(string method, Capnp.Data wasmData, Capnp.TextList args, Capnp.TextList envList, Capability? bootstrap, CallContext context)
    {
        if (wasmData.Length > Pid0.MaxModuleBytes)
        {
            throw new RpcException(RpcErrorType.Failed, $"{method}: the module is {wasmData.Length} bytes, over the {Pid0.MaxModuleBytes / (1024 * 1024)} MiB module limit");
        }
        byte[] wasm = wasmData.ToArray();
        var argv = new List<string>(args.Count + 1) { "wasm" };
        foreach (Capnp.Text a in args)
        {
            argv.Add(a.ToString());
        }
        var env = new Dictionary<string, string>();
        foreach (Capnp.Text e in envList)
        {
            string entry = e.ToString();
            int eq = entry.IndexOf('=');
            if (eq <= 0)
            {
                throw new RpcException(RpcErrorType.Failed, $"{method}: env entry '{entry}' is not NAME=value");
            }
            env[entry[..eq]] = entry[(eq + 1)..];
        }
        Pipe stdin = StreamPipes.Create(host.StreamBufferBytes), stdout = StreamPipes.Create(host.StreamBufferBytes), stderr = StreamPipes.Create(host.StreamBufferBytes);
        GuestSession child;
        try
        {
            child = await GuestSession.StartAsync(host.Engine, wasm, new CellOptions
            {
                Name = $"{owner?.Cell.Name ?? "host"}/child",
                Args = argv,
                Env = env,
                Stdin = stdin.Reader,
                Stdout = stdout.Writer,
                Stderr = stderr.Writer,
                MemoryLimitBytes = host.ChildMemoryLimitBytes,
            }, bootstrap, owner, host.Logger, context.CancellationToken).ConfigureAwait(false);
        }
        catch (CellStartException e)
        {
            throw new RpcException(RpcErrorType.Failed, $"{method}: {e.Message}");
        }
        _ = child.Cell.Completion.ContinueWith(_ =>
        {
            // The child is gone: its output ends (after what it wrote), its input goes nowhere.
            stdout.Writer.Complete();
            stderr.Writer.Complete();
            stdin.Reader.Complete();
        }, TaskScheduler.Default);
        var process = new ProcessServer(host, child, seq,
            new WritableStream(stdin.Writer, "stdin"), new ReadableStream(stdout.Reader, "stdout"), new ReadableStream(stderr.Reader, "stderr"));
        using Capability cap = host.Epochs.Guard(process, seq);
        return context.AddResultCapability(cap);
    }
}

/// <summary>A child guest. Dropping every reference to it kills it.</summary>
internal sealed class ProcessServer : Process.Server, IDisposable
{
    private readonly HostContext _host;
    private readonly GuestSession _child;
    private readonly ulong _seq;
    private readonly Capability _stdin, _stdout, _stderr;

    public ProcessServer(HostContext host, GuestSession child, ulong seq, ByteStream.Server stdin, ByteStream.Server stdout, ByteStream.Server stderr)
    {
        _host = host;
        _child = child;
        _seq = seq;
        _stdin = Capability.FromServer(stdin);
        _stdout = Capability.FromServer(stdout);
        _stderr = Capability.FromServer(stderr);
    }

    private ValueTask Stream(Capability stream, CallContext context, Action<uint> set)
    {
        using Capability guarded = _host.Epochs.Guard(stream, _seq);
        set(context.AddResultCapability(guarded));
        return ValueTask.CompletedTask;
    }

    public override ValueTask StdinAsync(Process.StdinParams.Reader @params, Process.StdinResults.Builder results, CallContext context) =>
        Stream(_stdin, context, i => results.Stream = i);

    public override ValueTask StdoutAsync(Process.StdoutParams.Reader @params, Process.StdoutResults.Builder results, CallContext context) =>
        Stream(_stdout, context, i => results.Stream = i);

    public override ValueTask StderrAsync(Process.StderrParams.Reader @params, Process.StderrResults.Builder results, CallContext context) =>
        Stream(_stderr, context, i => results.Stream = i);

    public override async ValueTask WaitAsync(Process.WaitParams.Reader @params, Process.WaitResults.Builder results, CallContext context)
    {
        CellResult r = await _child.Cell.Completion.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        results.ExitCode = r.ExitCode;
    }

    public override ValueTask KillAsync(Process.KillParams.Reader @params, Process.KillResults.Builder results, CallContext context)
    {
        _child.Cell.Kill();
        return ValueTask.CompletedTask;
    }

    public override async ValueTask BootstrapAsync(Process.BootstrapParams.Reader @params, Process.BootstrapResults.Builder results, CallContext context)
    {
        Capability? export = await _child.ExportAsync().WaitAsync(context.CancellationToken).ConfigureAwait(false);
        if (export is null)
        {
            results.Cap = null;
            return;
        }
        using Capability guarded = _host.Epochs.Guard(export, _seq);
        results.Cap = context.AddResultCapability(guarded);
    }

    public void Dispose()
    {
        _child.Cell.Kill();
        _stdin.Dispose();
        _stdout.Dispose();
        _stderr.Dispose();
    }
}
