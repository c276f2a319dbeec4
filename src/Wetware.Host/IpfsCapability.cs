using Wetware.Capnp;
using Wetware.Capnp.Rpc;
using Wetware.Ipfs;
using Wetware.Schema;

namespace Wetware.Host;

/// <summary>
/// The <c>ipfs</c> capability of a session (shared/spec/interfaces.md, <c>ipfs.capnp</c>) over the IPFS node's HTTP
/// RPC API: <c>unixfs</c> (cat, ls, add), <c>block</c> (get, put), <c>pin</c> (add, rm, ls) and <c>resolvePath</c>;
/// the other sub-APIs answer <c>unimplemented</c>. Node unreachable: <c>disconnected</c>, naming the URL. Content
/// that would not fit in one message fails with a reason naming the limit.
/// </summary>
internal sealed class IpfsServer(IpfsClient? ipfs) : Schema.Client.Server
{
    /// <summary>The most content a single answer carries: the message limit less room for the message around it.</summary>
    public const int MaxContentBytes = (int)(ReaderOptions.DefaultMaxMessageBytes - 64 * 1024);

    internal IpfsClient Node => ipfs ?? throw new RpcException(RpcErrorType.Failed, "ipfs: this host has no IPFS node configured");

    public override ValueTask UnixfsAsync(Schema.Client.UnixfsParams.Reader @params, Schema.Client.UnixfsResults.Builder results, CallContext context)
    {
        using Capability api = Capability.FromServer(new UnixFsServer(this));
        results.Api = context.AddResultCapability(api);
        return ValueTask.CompletedTask;
    }

    public override ValueTask BlockAsync(Schema.Client.BlockParams.Reader @params, Schema.Client.BlockResults.Builder results, CallContext context)
    {
        using Capability api = Capability.FromServer(new BlockServer(this));
        results.Api = context.AddResultCapability(api);
        return ValueTask.CompletedTask;
    }

    public override ValueTask PinAsync(Schema.Client.PinParams.Reader @params, Schema.Client.PinResults.Builder results, CallContext context)
    {
        using Capability api = Capability.FromServer(new PinServer(this));
        results.Api = context.AddResultCapability(api);
        return ValueTask.CompletedTask;
    }

    public override async ValueTask ResolvePathAsync(Schema.Client.ResolvePathParams.Reader @params, Schema.Client.ResolvePathResults.Builder results, CallContext context)
    {
        string path = Path(@params.Path, "resolvePath");
        DagResolved r = await Call(() => Node.DagResolveAsync(path, context.CancellationToken), "resolvePath").ConfigureAwait(false);
        results.SetResolved("/ipfs/" + r.Cid);
        string[] rest = r.RemainderPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        TextListBuilder list = results.InitRemainder(rest.Length);
        for (int i = 0; i < rest.Length; i++)
        {
            list.Set(i, rest[i]);
        }
    }

    /// <summary>A path argument: not empty, no NUL, within reason.</summary>
    internal static string Path(Text text, string method)
    {
        string path = text.ToString();
        if (path.Length == 0)
        {
            throw new RpcException(RpcErrorType.Failed, $"ipfs {method}: the path is empty");
        }
        if (path.Length > 4096 || path.Contains('\0', StringComparison.Ordinal))
        {
            throw new RpcException(RpcErrorType.Failed, $"ipfs {method}: not a valid path");
        }
        return path;
    }

    /// <summary>Runs a call on the node, its failures as RPC errors: unreachable is <c>disconnected</c>; the rest <c>failed</c>.</summary>
    internal static async Task<T> Call<T>(Func<Task<T>> call, string method)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (IpfsException e) when (e.Kind == IpfsErrorKind.TooLarge)
        {
            throw new RpcException(RpcErrorType.Failed, $"ipfs {method}: {e.Message} (one answer must fit in a message: the limit is {ReaderOptions.DefaultMaxMessageBytes / (1024 * 1024)} MiB)");
        }
        catch (IpfsException e)
        {
            RpcErrorType type = e.Kind == IpfsErrorKind.Unreachable ? RpcErrorType.Disconnected : RpcErrorType.Failed;
            throw new RpcException(type, $"ipfs {method}: {e.Message}");
        }
    }

    internal static async Task Call(Func<Task> call, string method) =>
        await Call(async () =>
        {
            await call().ConfigureAwait(false);
            return 0;
        }, method).ConfigureAwait(false);
}

internal sealed class UnixFsServer(IpfsServer ipfs) : UnixFS.Server
{
    public override async ValueTask CatAsync(UnixFS.CatParams.Reader @params, UnixFS.CatResults.Builder results, CallContext context)
    {
        string path = IpfsServer.Path(@params.Path, "cat");
        byte[] data = await IpfsServer.Call(() => ipfs.Node.CatBytesAsync(path, IpfsServer.MaxContentBytes, context.CancellationToken), "cat").ConfigureAwait(false);
        results.SetData(data);
    }

    public override async ValueTask LsAsync(UnixFS.LsParams.Reader @params, UnixFS.LsResults.Builder results, CallContext context)
    {
        string path = IpfsServer.Path(@params.Path, "ls");
        IReadOnlyList<IpfsEntry> entries = await IpfsServer.Call(() => ipfs.Node.LsAsync(path, context.CancellationToken), "ls").ConfigureAwait(false);
        StructListBuilder<UnixFS.Entry.Builder> list = results.InitEntries(entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            UnixFS.Entry.Builder e = list[i];
            e.SetName(entries[i].Name);
            e.Size = entries[i].Size;
            e.Type = entries[i].Type == IpfsEntryType.Directory ? UnixFS.Entry.EntryType.Directory : UnixFS.Entry.EntryType.File;
            e.SetCid(entries[i].Cid.Bytes);
        }
    }

    public override async ValueTask AddAsync(UnixFS.AddParams.Reader @params, UnixFS.AddResults.Builder results, CallContext context)
    {
        ReadOnlyMemory<byte> data = @params.Data.ToArray();
        Cid cid = await IpfsServer.Call(() => ipfs.Node.AddAsync(data, null, context.CancellationToken), "add").ConfigureAwait(false);
        results.SetPath("/ipfs/" + cid);
    }
}

internal sealed class BlockServer(IpfsServer ipfs) : Block.Server
{
    public override async ValueTask GetAsync(Block.GetParams.Reader @params, Block.GetResults.Builder results, CallContext context)
    {
        if (!Cid.TryFromBytes(@params.Cid.Span, out Cid? cid, out string? reason))
        {
            throw new RpcException(RpcErrorType.Failed, $"ipfs block.get: not a CID: {reason}");
        }
        byte[] data = await IpfsServer.Call(() => ipfs.Node.BlockGetAsync(cid, IpfsServer.MaxContentBytes, context.CancellationToken), "block.get").ConfigureAwait(false);
        results.SetData(data);
    }

    public override async ValueTask PutAsync(Block.PutParams.Reader @params, Block.PutResults.Builder results, CallContext context)
    {
        ReadOnlyMemory<byte> data = @params.Data.ToArray();
        Cid cid = await IpfsServer.Call(() => ipfs.Node.BlockPutAsync(data, context.CancellationToken), "block.put").ConfigureAwait(false);
        results.SetCid(cid.Bytes);
    }
}

internal sealed class PinServer(IpfsServer ipfs) : Pin.Server
{
    public override async ValueTask AddAsync(Pin.AddParams.Reader @params, Pin.AddResults.Builder results, CallContext context)
    {
        string path = IpfsServer.Path(@params.Path, "pin.add");
        await IpfsServer.Call(() => ipfs.Node.PinAddAsync(path, context.CancellationToken), "pin.add").ConfigureAwait(false);
    }

    public override async ValueTask RmAsync(Pin.RmParams.Reader @params, Pin.RmResults.Builder results, CallContext context)
    {
        string path = IpfsServer.Path(@params.Path, "pin.rm");
        await IpfsServer.Call(() => ipfs.Node.PinRmAsync(path, context.CancellationToken), "pin.rm").ConfigureAwait(false);
    }

    public override async ValueTask LsAsync(Pin.LsParams.Reader @params, Pin.LsResults.Builder results, CallContext context)
    {
        IReadOnlyList<Cid> pins = await IpfsServer.Call(() => ipfs.Node.PinLsAsync("recursive", context.CancellationToken), "pin.ls").ConfigureAwait(false);
        TextListBuilder list = results.InitPaths(pins.Count);
        for (int i = 0; i < pins.Count; i++)
        {
            list.Set(i, "/ipfs/" + pins[i]);
        }
    }
}
