using System.Collections.Concurrent;
using Wetware.Capnp.Rpc;
using Wetware.GuestSdk.Tests.Schema;
using S = Wetware.Schema;

namespace Wetware.GuestSdk.Tests;

// Test doubles for the host side of a guest's fd 4. The real Membrane lives in Wetware.Host; these
// answer just enough of stem.capnp and system.capnp (and the test's Tester) for the guest SDK's tests.

/// <summary>The host's bootstrap in these tests: a Membrane that also answers Tester (dispatch by interface id).</summary>
internal sealed class TestBootstrap(TestMembrane membrane, HostTester tester) : IRpcServer
{
    public TestMembrane Membrane => membrane;

    public HostTester Tester => tester;

    public ValueTask DispatchAsync(CallContext context) => context.InterfaceId == Schema.Tester.TypeId
        ? ((IRpcServer)tester).DispatchAsync(context)
        : ((IRpcServer)membrane).DispatchAsync(context);
}

internal sealed class TestMembrane : S.Membrane.Server
{
    public static readonly byte[] PeerId = [0x00, 0x25, 0x08, 0x02, 0x12, 0x21, 0x03, 0xab, 0xcd];
    public static readonly byte[] Head = [0xca, 0xfe];

    public int Grafts;

    public TestHost Host { get; } = new();

    public TestExecutor Executor { get; } = new();

    public override ValueTask GraftAsync(S.Membrane.GraftParams.Reader @params, S.Membrane.GraftResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Grafts);
        using var identity = S.Identity.Client.FromServer(new TestIdentity());
        using var host = S.Host.Client.FromServer(Host);
        using var executor = S.Executor.Client.FromServer(Executor);
        results.Identity = context.AddResultCapability(identity);
        results.Host = context.AddResultCapability(host);
        results.Executor = context.AddResultCapability(executor);
        // ipfs stays null: the IPFS issue brings it.
        return ValueTask.CompletedTask;
    }

    public override ValueTask EpochAsync(S.Membrane.EpochParams.Reader @params, S.Membrane.EpochResults.Builder results, CallContext context)
    {
        S.Epoch.Builder e = results.InitEpoch();
        e.Seq = 7;
        e.SetHead(Head);
        e.AdoptedBlock = 42;
        return ValueTask.CompletedTask;
    }
}

internal sealed class TestIdentity : S.Identity.Server
{
}

internal sealed class TestHost : S.Host.Server
{
    /// <summary>Runs before executor() answers (a test can hold the answer back).</summary>
    public Func<Task>? BeforeExecutor;

    public override ValueTask IdAsync(S.Host.IdParams.Reader @params, S.Host.IdResults.Builder results, CallContext context)
    {
        results.SetPeerId(TestMembrane.PeerId);
        return ValueTask.CompletedTask;
    }

    public override async ValueTask ExecutorAsync(S.Host.ExecutorParams.Reader @params, S.Host.ExecutorResults.Builder results, CallContext context)
    {
        if (BeforeExecutor is { } before)
        {
            await before();
        }
        using var executor = S.Executor.Client.FromServer(new TestExecutor());
        results.Executor = context.AddResultCapability(executor);
    }
}

internal sealed class TestExecutor : S.Executor.Server
{
    public int Echoes;

    public readonly ConcurrentQueue<FakeProcess> Started = new();

    public override ValueTask EchoAsync(S.Executor.EchoParams.Reader @params, S.Executor.EchoResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Echoes);
        results.SetResponse(@params.Message.ToString());
        return ValueTask.CompletedTask;
    }

    public override ValueTask RunBytesAsync(S.Executor.RunBytesParams.Reader @params, S.Executor.RunBytesResults.Builder results, CallContext context)
    {
        var process = new FakeProcess(@params.Wasm.ToArray(), @params.Args.ToStrings(), @params.Env.ToStrings(), null);
        Started.Enqueue(process);
        using var client = S.Process.Client.FromServer(process);
        results.Process = context.AddResultCapability(client);
        return ValueTask.CompletedTask;
    }

    public override ValueTask SpawnAsync(S.Executor.SpawnParams.Reader @params, S.Executor.SpawnResults.Builder results, CallContext context)
    {
        Capability? bootstrap = @params.Bootstrap is uint i ? context.GetParamCapability(i) : null;
        var process = new FakeProcess(@params.Wasm.ToArray(), @params.Args.ToStrings(), @params.Env.ToStrings(), bootstrap);
        Started.Enqueue(process);
        using var client = S.Process.Client.FromServer(process);
        results.Process = context.AddResultCapability(client);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A process that is not one: its stdout answers "child got: " and whatever was written to its stdin
/// once stdin is closed; wait gives 0 then (137 once killed); its bootstrap is a HostTester, or the
/// capability spawn was given.
/// </summary>
internal sealed class FakeProcess(byte[] wasm, string[] args, string[] env, Capability? spawnBootstrap) : S.Process.Server
{
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    public byte[] Wasm => wasm;

    public string[] Args => args;

    public string[] Env => env;

    public Capability? SpawnBootstrap => spawnBootstrap;

    public FakeStream Stdin { get; } = new(writable: true);

    public FakeStream Stdout { get; } = new(writable: false);

    public FakeStream Stderr { get; } = new(writable: false);

    private void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            byte[] input = await Stdin.Closed;
            Stdout.Supply([.. "child got: "u8.ToArray(), .. input]);
            Stderr.Supply([]);
            _exit.TrySetResult(0);
        });
    }

    public override ValueTask StdinAsync(S.Process.StdinParams.Reader @params, S.Process.StdinResults.Builder results, CallContext context) =>
        Stream(Stdin, context, s => results.Stream = s);

    public override ValueTask StdoutAsync(S.Process.StdoutParams.Reader @params, S.Process.StdoutResults.Builder results, CallContext context) =>
        Stream(Stdout, context, s => results.Stream = s);

    public override ValueTask StderrAsync(S.Process.StderrParams.Reader @params, S.Process.StderrResults.Builder results, CallContext context) =>
        Stream(Stderr, context, s => results.Stream = s);

    private ValueTask Stream(FakeStream stream, CallContext context, Action<uint> set)
    {
        Start();
        using var client = S.ByteStream.Client.FromServer(stream);
        set(context.AddResultCapability(client));
        return ValueTask.CompletedTask;
    }

    public override async ValueTask WaitAsync(S.Process.WaitParams.Reader @params, S.Process.WaitResults.Builder results, CallContext context) =>
        results.ExitCode = await _exit.Task;

    public override ValueTask KillAsync(S.Process.KillParams.Reader @params, S.Process.KillResults.Builder results, CallContext context)
    {
        _exit.TrySetResult(137);
        return ValueTask.CompletedTask;
    }

    public override ValueTask BootstrapAsync(S.Process.BootstrapParams.Reader @params, S.Process.BootstrapResults.Builder results, CallContext context)
    {
        using Capability cap = spawnBootstrap?.Clone() ?? Capability.FromServer(new HostTester());
        results.Cap = context.AddResultCapability(cap);
        return ValueTask.CompletedTask;
    }
}

internal sealed class FakeStream(bool writable) : S.ByteStream.Server
{
    private readonly MemoryStream _written = new();
    private readonly TaskCompletionSource<byte[]> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<byte[]> _supplied = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _readOffset;

    public Task<byte[]> Closed => _closed.Task;

    public void Supply(byte[] content) => _supplied.TrySetResult(content);

    public override async ValueTask ReadAsync(S.ByteStream.ReadParams.Reader @params, S.ByteStream.ReadResults.Builder results, CallContext context)
    {
        if (writable)
        {
            throw new RpcException(RpcErrorType.Failed, "read of a writable stream");
        }
        byte[] content = await _supplied.Task;
        int n = Math.Min((int)Math.Min(@params.MaxBytes, 65536u), content.Length - _readOffset);
        results.SetData(content.AsSpan(_readOffset, n));
        _readOffset += n;
    }

    public override ValueTask WriteAsync(S.ByteStream.WriteParams.Reader @params, S.ByteStream.WriteResults.Builder results, CallContext context)
    {
        if (!writable || _closed.Task.IsCompleted)
        {
            throw new RpcException(RpcErrorType.Failed, writable ? "write after close" : "write to a readable stream");
        }
        lock (_written)
        {
            _written.Write(@params.Data.Span);
        }
        return ValueTask.CompletedTask;
    }

    public override ValueTask CloseAsync(S.ByteStream.CloseParams.Reader @params, S.ByteStream.CloseResults.Builder results, CallContext context)
    {
        lock (_written)
        {
            _closed.TrySetResult(_written.ToArray());
        }
        return ValueTask.CompletedTask;
    }
}

/// <summary>The host's Tester: echo (logged in order), fail, hold/give, callBack, sink, and promises it settles on request.</summary>
internal sealed class HostTester : Tester.Server
{
    private readonly object _sync = new();
    private readonly List<string> _log = [];
    private TaskCompletionSource<Capability>? _promise;
    private Capability? _held;

    public IReadOnlyList<string> Log
    {
        get
        {
            lock (_sync)
            {
                return [.. _log];
            }
        }
    }

    public long Sunk;

    /// <summary>Completes when a hang() call was canceled by its caller's Finish.</summary>
    public readonly TaskCompletionSource HangCanceled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override async ValueTask HangAsync(Tester.HangParams.Reader @params, Tester.HangResults.Builder results, CallContext context)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            HangCanceled.TrySetResult();
            throw;
        }
    }

    public override ValueTask EchoAsync(Tester.EchoParams.Reader @params, Tester.EchoResults.Builder results, CallContext context)
    {
        string text = @params.Text.ToString();
        lock (_sync)
        {
            _log.Add(text);
        }
        results.SetText(text);
        return ValueTask.CompletedTask;
    }

    public override ValueTask FailAsync(Tester.FailParams.Reader @params, Tester.FailResults.Builder results, CallContext context) =>
        throw new RpcException(RpcErrorType.Failed, @params.Reason.ToString());

    public override ValueTask HoldAsync(Tester.HoldParams.Reader @params, Tester.HoldResults.Builder results, CallContext context)
    {
        Capability? cap = @params.Cap is uint i ? context.GetParamCapability(i) : null;
        lock (_sync)
        {
            _held?.Dispose();
            _held = cap;
        }
        return ValueTask.CompletedTask;
    }

    public override ValueTask GiveAsync(Tester.GiveParams.Reader @params, Tester.GiveResults.Builder results, CallContext context)
    {
        lock (_sync)
        {
            if (_held is not null)
            {
                results.Cap = context.AddResultCapability(_held);
            }
        }
        return ValueTask.CompletedTask;
    }

    public override async ValueTask CallBackAsync(Tester.CallBackParams.Reader @params, Tester.CallBackResults.Builder results, CallContext context)
    {
        string text = @params.Text.ToString();
        using Tester.Client? cb = context.GetParamClient<Tester.Client>(@params.Cb);
        if (cb is null)
        {
            throw new RpcException(RpcErrorType.Failed, "no callback");
        }
        using Capnp.Rpc.Response<Tester.EchoResults.Reader> r = await cb.EchoAsync(text);
        results.SetText(r.Results.Text.ToString());
    }

    public override ValueTask SinkAsync(Tester.SinkParams.Reader @params, Tester.SinkResults.Builder results, CallContext context)
    {
        long sum = 0;
        foreach (byte b in @params.Data.Span)
        {
            sum += b;
        }
        Interlocked.Exchange(ref Sunk, sum);
        results.Size = (ulong)@params.Data.Length;
        return ValueTask.CompletedTask;
    }

    public override ValueTask PromiseAsync(Tester.PromiseParams.Reader @params, Tester.PromiseResults.Builder results, CallContext context)
    {
        var promise = new TaskCompletionSource<Capability>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_sync)
        {
            _promise = promise;
        }
        // Exported as senderPromise; a Resolve follows when settle() completes it.
        using Capability cap = Capability.FromPromise(promise.Task);
        results.Cap = context.AddResultCapability(cap);
        return ValueTask.CompletedTask;
    }

    public override ValueTask SettleAsync(Tester.SettleParams.Reader @params, Tester.SettleResults.Builder results, CallContext context)
    {
        Capability target = (@params.Cap is uint i ? context.GetParamCapability(i) : null) ?? Capability.FromServer(this);
        TaskCompletionSource<Capability>? promise;
        lock (_sync)
        {
            promise = _promise;
            _promise = null;
        }
        if (promise is null)
        {
            target.Dispose();
            throw new RpcException(RpcErrorType.Failed, "no promise to settle");
        }
        promise.SetResult(target);
        return ValueTask.CompletedTask;
    }

    public override ValueTask LogAsync(Tester.LogParams.Reader @params, Tester.LogResults.Builder results, CallContext context)
    {
        List<string> log = [.. Log];
        Capnp.TextListBuilder entries = results.InitEntries(log.Count);
        for (int i = 0; i < log.Count; i++)
        {
            entries.Set(i, log[i]);
        }
        return ValueTask.CompletedTask;
    }
}
