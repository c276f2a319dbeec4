using System.IO.Pipelines;

namespace Wetware.Capnp.Rpc.Tests;

internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input => input;

    public PipeWriter Output => output;

    /// <summary>Two ends of an in-memory byte stream.</summary>
    public static (IDuplexPipe A, IDuplexPipe B) CreatePair()
    {
        var ab = new Pipe();
        var ba = new Pipe();
        return (new DuplexPipe(ba.Reader, ab.Writer), new DuplexPipe(ab.Reader, ba.Writer));
    }
}

/// <summary>
/// A test server: 0 echo(text) -> text; 1 fail(); 2 makeCounter() -> cap; 3 callBack(cap, text) -> text
/// (calls method 0 on the cap it is given); 4 slow() waits until canceled; 5 count() -> uint32 calls so far;
/// 6 identity(cap) -> cap.
/// </summary>
internal sealed class TestServer : IRpcServer
{
    public const ulong InterfaceId = 0xabcdef0123456789;
    public int Calls;
    public readonly TaskCompletionSource SlowCanceled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public readonly TaskCompletionSource SlowStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DispatchAsync(CallContext c)
    {
        Interlocked.Increment(ref Calls);
        if (c.InterfaceId != InterfaceId)
        {
            throw new RpcException(RpcErrorType.Unimplemented, $"unknown interface {c.InterfaceId:x}");
        }
        switch (c.MethodId)
        {
            case 0:
                {
                    string text = c.Params.GetStruct().ReadText(0).ToString();
                    c.Results.InitStruct(0, 1).SetText(0, text);
                    break;
                }
            case 1:
                throw new RpcException(RpcErrorType.Overloaded, "this method always fails");
            case 2:
                {
                    using Capability counter = Capability.FromServer(new TestServer());
                    c.Results.InitStruct(0, 1).SetCapability(0, c.AddResultCapability(counter));
                    break;
                }
            case 3:
                {
                    StructReader p = c.Params.GetStruct();
                    using Capability? callback = c.GetParamCapability(p.ReadCapability(0) ?? throw new RpcException(RpcErrorType.Failed, "no callback"));
                    using RpcRequest req = callback!.NewRequest(InterfaceId, 0);
                    req.Params.InitStruct(0, 1).SetText(0, "called back: " + p.ReadText(1));
                    using RpcResponse r = await req.SendAsync(c.CancellationToken);
                    c.Results.InitStruct(0, 1).SetText(0, r.Results.GetStruct().ReadText(0).ToString());
                    break;
                }
            case 4:
                SlowStarted.TrySetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, c.CancellationToken);
                }
                catch (OperationCanceledException)
                {
                    SlowCanceled.TrySetResult();
                    throw;
                }
                break;
            case 5:
                c.Results.InitStruct(1, 0).WriteUInt32(0, (uint)Calls);
                break;
            case 6:
                {
                    // identity(cap) -> cap: hands the caller's capability straight back.
                    using Capability? given = c.GetParamCapability(c.Params.GetStruct().ReadCapability(0) ?? 0);
                    StructBuilder r = c.Results.InitStruct(0, 1);
                    r.SetCapability(0, given is null ? null : c.AddResultCapability(given));
                    break;
                }
            default:
                throw new RpcException(RpcErrorType.Unimplemented, $"method {c.MethodId}");
        }
    }

    public static async Task<string> EchoAsync(Capability cap, string text, CancellationToken ct = default)
    {
        using RpcRequest req = cap.NewRequest(InterfaceId, 0);
        req.Params.InitStruct(0, 1).SetText(0, text);
        using RpcResponse r = await req.SendAsync(ct);
        return r.Results.GetStruct().ReadText(0).ToString();
    }
}
