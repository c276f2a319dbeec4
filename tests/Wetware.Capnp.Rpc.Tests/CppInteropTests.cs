using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Wetware.Capnp.Rpc.Tests.Interop;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>Builds the C++ interop server and client from source (Debian libcapnp-dev) once per test run.</summary>
public sealed class CppInteropPrograms
{
    public CppInteropPrograms()
    {
        string root = Repository.Root;
        Directory = Path.Combine(AppContext.BaseDirectory, "interop-cpp");
        var psi = new ProcessStartInfo("bash", [Path.Combine(root, "tests/interop/rpc/build.sh"), Directory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"building the C++ interop programs failed (needs g++ and libcapnp-dev): {err}");
        }
    }

    public string Directory { get; }

    public string Server => Path.Combine(Directory, "interop_server");

    public string Client => Path.Combine(Directory, "interop_client");
}

/// <summary>Our implementation of interop.capnp's Echo, mirroring interop_server.cpp, on the generated server base.</summary>
internal sealed class InteropEcho : Echo.Server
{
    public int Calls;
    public readonly TaskCompletionSource SlowCanceled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override ValueTask EchoAsync(Echo.EchoParams.Reader @params, Echo.EchoResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        results.SetText(@params.Text.ToString());
        return ValueTask.CompletedTask;
    }

    public override ValueTask FailAsync(Echo.FailParams.Reader @params, Echo.FailResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        throw new RpcException(RpcErrorType.Failed, "requested failure: " + @params.Reason);
    }

    public override ValueTask MakeCounterAsync(Echo.MakeCounterParams.Reader @params, Echo.MakeCounterResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        using Counter.Client counter = Counter.Client.FromServer(new InteropCounter(@params.Start));
        results.Counter = context.AddResultCapability(counter);
        return ValueTask.CompletedTask;
    }

    public override async ValueTask CallBackAsync(Echo.CallBackParams.Reader @params, Echo.CallBackResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        using Echo.Client callback = context.GetParamClient<Echo.Client>(@params.Callback)
            ?? throw new RpcException(RpcErrorType.Failed, "null callback");
        using Response<Echo.EchoResults.Reader> r = await callback.EchoAsync("called back: " + @params.Text, context.CancellationToken);
        results.SetText(r.Results.Text.ToString());
    }

    public override async ValueTask SlowAsync(Echo.SlowParams.Reader @params, Echo.SlowResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            SlowCanceled.TrySetResult();
            throw;
        }
    }

    public override ValueTask BigAsync(Echo.BigParams.Reader @params, Echo.BigResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        var data = new byte[@params.Size];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i * 7);
        }
        results.SetData(data);
        return ValueTask.CompletedTask;
    }

    public override ValueTask DelayedCounterAsync(Echo.DelayedCounterParams.Reader @params, Echo.DelayedCounterResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        uint start = @params.Start;
        int delay = (int)@params.DelayMs;
        using Capability promised = Capability.FromPromise(Later());
        results.Counter = context.AddResultCapability(promised);
        return ValueTask.CompletedTask;

        async Task<Capability> Later()
        {
            await Task.Delay(delay);
            return Counter.Client.FromServer(new InteropCounter(start)).Capability;
        }
    }

    public override ValueTask IdentityAsync(Echo.IdentityParams.Reader @params, Echo.IdentityResults.Builder results, CallContext context)
    {
        Interlocked.Increment(ref Calls);
        using Counter.Client? given = context.GetParamClient<Counter.Client>(@params.Counter);
        results.Counter = given is null ? null : context.AddResultCapability(given);
        return ValueTask.CompletedTask;
    }

    public override ValueTask GetCallsAsync(Echo.GetCallsParams.Reader @params, Echo.GetCallsResults.Builder results, CallContext context)
    {
        results.Calls = (uint)Volatile.Read(ref Calls);
        return ValueTask.CompletedTask;
    }
}

internal sealed class InteropCounter(uint start) : Counter.Server
{
    private uint _value = start;

    public override ValueTask IncrementAsync(Counter.IncrementParams.Reader @params, Counter.IncrementResults.Builder results, CallContext context)
    {
        results.Value = Interlocked.Increment(ref _value);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Client-side calls of interop.capnp, written against the raw request API.</summary>
internal static class InteropCalls
{
    public static async Task<string> EchoAsync(Capability echo, string text, CancellationToken ct = default)
    {
        using RpcRequest req = echo.NewRequest(Echo.TypeId, Echo.Methods.Echo);
        req.Params.InitStruct<Echo.EchoParams.Builder>().SetText(text);
        using RpcResponse r = await req.SendAsync(ct);
        return r.Results.GetStruct<Echo.EchoResults.Reader>().Text.ToString();
    }

    public static async Task<uint> IncrementAsync(Capability counter)
    {
        using RpcRequest req = counter.NewRequest(Counter.TypeId, Counter.Methods.Increment);
        req.Params.InitStruct(0, 0);
        using RpcResponse r = await req.SendAsync();
        return r.Results.GetStruct<Counter.IncrementResults.Reader>().Value;
    }
}

public sealed class CppInteropTests(CppInteropPrograms programs) : IClassFixture<CppInteropPrograms>
{
    [Fact]
    public async Task CppClientPassesEveryCaseAgainstOurServer()
    {
        var echo = new InteropEcho();
        using Capability main = Capability.FromServer(echo);
        using var listener = Listen(out int port);
        Task<RpcConnection> accept = AcceptOneAsync(listener, main);

        var psi = new ProcessStartInfo(programs.Client, [$"127.0.0.1:{port}"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process client = Process.Start(psi)!;
        Task<string> stdout = client.StandardOutput.ReadToEndAsync();
        Task<string> stderr = client.StandardError.ReadToEndAsync();
        bool exited = client.WaitForExit(60_000);
        if (!exited)
        {
            client.Kill();
        }
        string output = await stdout;
        Assert.True(exited, $"the C++ client hung; it printed:\n{output}");
        Assert.True(client.ExitCode == 0, $"C++ client failed:\n{output}\n{await stderr}");
        foreach (string c in new[] { "echo", "fail", "capability", "pipelined", "callback", "big", "cancel", "promise", "embargo" })
        {
            Assert.Contains($"ok {c}", output);
        }
        RpcConnection connection = await accept;
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(10)); // the C++ client hung up
        await connection.DisposeAsync();
        await echo.SlowCanceled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static Socket Listen(out int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        return listener;
    }

    /// <summary>Serves <paramref name="bootstrap"/> on the first connection the listener accepts.</summary>
    private static async Task<RpcConnection> AcceptOneAsync(Socket listener, Capability bootstrap)
    {
        var c = new RpcConnection(TcpTransport.FromSocket(await listener.AcceptAsync()), bootstrap);
        c.Start();
        return c;
    }

    /// <summary>Calls per direction in the leak storms (each passes and drops two capabilities).</summary>
    private const int StormCalls = 50_000;

    [Fact]
    public async Task CapabilityStormFromTheCppClientLeavesOurTablesAsTheyWere()
    {
        var echo = new InteropEcho();
        using Capability main = Capability.FromServer(echo);
        using var listener = Listen(out int port);
        Task<RpcConnection> accept = AcceptOneAsync(listener, main);
        var psi = new ProcessStartInfo(programs.Client, [$"127.0.0.1:{port}", StormCalls.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process client = Process.Start(psi)!;
        Task<string> stdout = client.StandardOutput.ReadToEndAsync();
        Task<string> stderr = client.StandardError.ReadToEndAsync();
        RpcConnection connection = await accept.WaitAsync(TimeSpan.FromSeconds(30));
        // Sample our tables all through the storm: a leak would grow them by thousands.
        var highWater = new RpcTableCounts(0, 0, 0, 0, 0);
        while (!client.HasExited)
        {
            RpcTableCounts now = connection.Counts;
            highWater = new RpcTableCounts(Math.Max(highWater.Questions, now.Questions), Math.Max(highWater.Answers, now.Answers),
                Math.Max(highWater.Imports, now.Imports), Math.Max(highWater.Exports, now.Exports), 0);
            await Task.Delay(20);
        }
        string output = await stdout;
        Assert.True(client.ExitCode == 0, $"C++ storm client failed ({client.ExitCode}):\n{output}\n{await stderr}\nour side: {connection.CloseReason?.Message}");
        Assert.Contains("ok storm", output);
        Assert.True(highWater.Questions <= 4 && highWater.Answers <= 4 && highWater.Imports <= 4 && highWater.Exports <= 4,
            $"tables grew during {StormCalls} calls: high water {highWater}");
        await connection.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task CapabilityStormAgainstTheCppServerLeavesOurTablesAsTheyWere()
    {
        await using var server = new CppServer(programs.Server);
        var (connection, echo) = await ConnectAsync(server);
        await using RpcConnection _ = connection;
        using Capability __ = echo;
        var idle = new RpcTableCounts(0, 0, 1, 0, 0); // only the bootstrap import
        for (int i = 0; i < 500 && connection.Counts != idle; i++)
        {
            await Task.Delay(10); // the bootstrap question goes once its Finish is written
        }
        Assert.Equal(idle, connection.Counts);
        var local = new InteropEcho();
        using Capability callback = Capability.FromServer(local);
        for (int i = 0; i < StormCalls; i++)
        {
            using (RpcRequest make = echo.NewRequest(Echo.TypeId, Echo.Methods.MakeCounter))
            {
                make.Params.InitStruct<Echo.MakeCounterParams.Builder>();
                using RpcResponse r = await make.SendAsync();
                using Capability counter = r.GetCapability(r.Results.GetStruct<Echo.MakeCounterResults.Reader>().Counter!.Value)!;
                Assert.Equal(1u, await InteropCalls.IncrementAsync(counter));
            }
            using (RpcRequest call = echo.NewRequest(Echo.TypeId, Echo.Methods.CallBack))
            {
                Echo.CallBackParams.Builder p = call.Params.InitStruct<Echo.CallBackParams.Builder>();
                p.Callback = call.AddCapability(callback);
                p.SetText("s");
                using RpcResponse r = await call.SendAsync();
            }
        }
        Assert.Equal(StormCalls, local.Calls);
        for (int i = 0; i < 500 && connection.Counts != idle; i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal(idle, connection.Counts);
    }

    private sealed class CppServer : IAsyncDisposable
    {
        private readonly Process _process;

        public CppServer(string path)
        {
            _process = Process.Start(new ProcessStartInfo(path, ["0"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the C++ server did not start: " + _process.StandardError.ReadToEnd());
            Port = int.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }

        public int Port { get; }

        public void Kill() => _process.Kill();

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }

    private static async Task<(RpcConnection Connection, Capability Echo)> ConnectAsync(CppServer server)
    {
        IDuplexPipe pipe = await TcpTransport.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));
        var c = new RpcConnection(pipe);
        c.Start();
        return (c, await c.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task GeneratedClientPipelinesAndCallsBackAgainstTheCppServer()
    {
        await using var server = new CppServer(programs.Server);
        var (connection, cap) = await ConnectAsync(server);
        await using RpcConnection _ = connection;
        using var echo = new Echo.Client(cap);

        // makeCounter and two increments on its not-yet-returned counter go out before any answer.
        RpcCall<Echo.MakeCounterResults.Reader, Echo.MakeCounterResults.Pipeline> make = echo.MakeCounterAsync(100);
        using (Counter.Client counter = make.Pipeline.GetCounter())
        {
            Task<Response<Counter.IncrementResults.Reader>> a = counter.IncrementAsync().AsTask();
            Task<Response<Counter.IncrementResults.Reader>> b = counter.IncrementAsync().AsTask();
            using Response<Counter.IncrementResults.Reader> ra = await a;
            using Response<Counter.IncrementResults.Reader> rb = await b;
            Assert.Equal((101u, 102u), (ra.Results.Value, rb.Results.Value));
        }
        (await make).Dispose();

        var local = new InteropEcho();
        using (var callback = Echo.Client.FromServer(local))
        using (Response<Echo.CallBackResults.Reader> r = await echo.CallBackAsync(callback, "from C++"))
        {
            Assert.Equal("called back: from C++", r.Results.Text.ToString());
        }
        Assert.Equal(1, local.Calls);

        var e = await Assert.ThrowsAsync<RpcException>(async () => await echo.FailAsync("typed"));
        Assert.Equal(RpcErrorType.Failed, e.Type);
        Assert.Contains("typed", e.Reason);

        using (Response<Echo.GetCallsResults.Reader> r = await echo.GetCallsAsync())
        {
            Assert.Equal(3u, r.Results.Calls); // makeCounter, callBack, fail
        }
    }

    [Fact]
    public async Task PipeliningAgainstTheCppServerSendsTheWholeChainBeforeAnyAnswer()
    {
        await using var server = new CppServer(programs.Server);
        await using var tap = new WireTap(server.Port);
        IDuplexPipe pipe = await TcpTransport.ConnectAsync(new IPEndPoint(IPAddress.Loopback, tap.Port));
        await using var connection = new RpcConnection(pipe);
        connection.Start();
        using var echo = new Echo.Client(await connection.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        // Hold every answer back, then make a chain: makeCounter, and two increments on its result.
        tap.CloseGate();
        int before = tap.Sent.Count;
        RpcCall<Echo.MakeCounterResults.Reader, Echo.MakeCounterResults.Pipeline> make = echo.MakeCounterAsync(100);
        using Counter.Client counter = make.Pipeline.GetCounter();
        Task<Response<Counter.IncrementResults.Reader>> first = counter.IncrementAsync().AsTask();
        Task<Response<Counter.IncrementResults.Reader>> second = counter.IncrementAsync().AsTask();
        for (int i = 0; i < 500 && tap.Sent.Skip(before).Count(m => m.Kind == Protocol.Message.Which.Call) < 3; i++)
        {
            await Task.Delay(10);
        }
        var calls = tap.Sent.Skip(before).Where(m => m.Kind == Protocol.Message.Which.Call).ToList();

        // All three went out with no answer received: one round trip for the chain, not three.
        Assert.Equal(3, calls.Count);
        Assert.Equal(Protocol.MessageTarget.Which.ImportedCap, calls[0].Target);
        Assert.All(calls.Skip(1), c =>
        {
            Assert.Equal(Protocol.MessageTarget.Which.PromisedAnswer, c.Target);
            Assert.Equal(calls[0].Question, c.TargetQuestion);
        });
        Assert.False(first.IsCompleted);

        tap.OpenGate();
        using Response<Counter.IncrementResults.Reader> a = await first.WaitAsync(TimeSpan.FromSeconds(10));
        using Response<Counter.IncrementResults.Reader> b = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((101u, 102u), (a.Results.Value, b.Results.Value));
        (await make).Dispose();
    }

    [Fact]
    public async Task PromisesFromTheCppServerResolveAndOurEmbargoKeepsCallOrder()
    {
        await using var server = new CppServer(programs.Server);
        var (connection, cap) = await ConnectAsync(server);
        await using RpcConnection _ = connection;
        using var echo = new Echo.Client(cap);

        // A promise (senderPromise) that the C++ side Resolves 100 ms later; calls before and after.
        using (Response<Echo.DelayedCounterResults.Reader> r = await echo.DelayedCounterAsync(5, 100))
        using (Counter.Client counter = r.GetClient<Counter.Client>(r.Results.Counter)!)
        {
            Task<Response<Counter.IncrementResults.Reader>> first = counter.IncrementAsync().AsTask();
            using (Response<Counter.IncrementResults.Reader> v = await first)
            {
                Assert.Equal(6u, v.Results.Value);
            }
            await Task.Delay(150); // resolved by now: calls go to the resolution
            using (Response<Counter.IncrementResults.Reader> v = await counter.IncrementAsync())
            {
                Assert.Equal(7u, v.Results.Value);
            }
        }

        // identity(our counter): two increments pipelined through C++ and back, then one after the
        // answer, straight to our object once the embargo lifts. The counter shows the order.
        var mine = new InteropCounter(1000);
        using (var local = Counter.Client.FromServer(mine))
        {
            RpcCall<Echo.IdentityResults.Reader, Echo.IdentityResults.Pipeline> call = echo.IdentityAsync(local);
            using Counter.Client returned = call.Pipeline.GetCounter();
            Task<Response<Counter.IncrementResults.Reader>> p1 = returned.IncrementAsync().AsTask();
            Task<Response<Counter.IncrementResults.Reader>> p2 = returned.IncrementAsync().AsTask();
            (await call).Dispose();
            Task<Response<Counter.IncrementResults.Reader>> p3 = returned.IncrementAsync().AsTask();
            uint[] values = [(await p1).Results.Value, (await p2).Results.Value, (await p3).Results.Value];
            Assert.Equal([1001u, 1002u, 1003u], values);
        }
        for (int i = 0; i < 200 && connection.Counts.Embargoes != 0; i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal(0, connection.Counts.Embargoes);
    }

    [Fact]
    public async Task OurClientPassesEveryCaseAgainstTheCppServer()
    {
        await using var server = new CppServer(programs.Server);
        var (connection, echo) = await ConnectAsync(server);
        await using RpcConnection _ = connection;
        using Capability __ = echo;

        Assert.Equal("hello from C#", await InteropCalls.EchoAsync(echo, "hello from C#"));

        using (RpcRequest fail = echo.NewRequest(Echo.TypeId, Echo.Methods.Fail))
        {
            fail.Params.InitStruct<Echo.FailParams.Builder>().SetReason("on purpose");
            var e = await Assert.ThrowsAsync<RpcException>(() => fail.SendAsync());
            Assert.Equal(RpcErrorType.Failed, e.Type);
            Assert.Contains("on purpose", e.Reason);
        }

        using (RpcRequest make = echo.NewRequest(Echo.TypeId, Echo.Methods.MakeCounter))
        {
            make.Params.InitStruct<Echo.MakeCounterParams.Builder>().Start = 10;
            using RpcResponse r = await make.SendAsync();
            using Capability counter = r.GetCapability(r.Results.GetStruct<Echo.MakeCounterResults.Reader>().Counter!.Value)!;
            Assert.Equal(11u, await InteropCalls.IncrementAsync(counter));
            Assert.Equal(12u, await InteropCalls.IncrementAsync(counter));
        }

        using (RpcRequest make = echo.NewRequest(Echo.TypeId, Echo.Methods.MakeCounter))
        {
            // Pipelined: increment() on the counter before makeCounter() has returned.
            make.Params.InitStruct<Echo.MakeCounterParams.Builder>().Start = 100;
            RpcPromise promise = make.Send();
            using Capability counter = promise.GetPipelinedCapability(0);
            Assert.Equal(101u, await InteropCalls.IncrementAsync(counter));
            Assert.Equal(102u, await InteropCalls.IncrementAsync(counter));
            using RpcResponse made = await promise.Response;
        }

        var local = new InteropEcho();
        using (Capability callback = Capability.FromServer(local))
        using (RpcRequest call = echo.NewRequest(Echo.TypeId, Echo.Methods.CallBack))
        {
            Echo.CallBackParams.Builder p = call.Params.InitStruct<Echo.CallBackParams.Builder>();
            p.Callback = call.AddCapability(callback);
            p.SetText("ping");
            using RpcResponse r = await call.SendAsync();
            Assert.Equal("called back: ping", r.Results.GetStruct<Echo.CallBackResults.Reader>().Text.ToString());
            Assert.Equal(1, local.Calls);
        }

        using (RpcRequest big = echo.NewRequest(Echo.TypeId, Echo.Methods.Big))
        {
            big.Params.InitStruct<Echo.BigParams.Builder>().Size = 8 * 1024 * 1024;
            using RpcResponse r = await big.SendAsync();
            Data d = r.Results.GetStruct<Echo.BigResults.Reader>().Data;
            Assert.Equal(8 * 1024 * 1024, d.Length);
            for (int i = 0; i < d.Length; i += 4093)
            {
                Assert.Equal((byte)(i * 7), d[i]);
            }
        }

        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        using (RpcRequest slow = echo.NewRequest(Echo.TypeId, Echo.Methods.Slow))
        {
            slow.Params.InitStruct(0, 0);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow.SendAsync(cts.Token));
        }
        Assert.Equal("after cancel", await InteropCalls.EchoAsync(echo, "after cancel"));
    }

    [Fact]
    public async Task KillingTheCppServerMidCallGivesDisconnectedOnEveryPendingCall()
    {
        await using var server = new CppServer(programs.Server);
        var (connection, echo) = await ConnectAsync(server);
        await using RpcConnection _ = connection;
        using Capability __ = echo;
        var calls = new List<Task<RpcResponse>>();
        var requests = new List<RpcRequest>();
        for (int i = 0; i < 10; i++)
        {
            RpcRequest slow = echo.NewRequest(Echo.TypeId, Echo.Methods.Slow);
            slow.Params.InitStruct(0, 0);
            requests.Add(slow);
            calls.Add(slow.SendAsync());
        }
        Assert.Equal("still there", await InteropCalls.EchoAsync(echo, "still there"));
        server.Kill();
        foreach (Task<RpcResponse> call in calls)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(RpcErrorType.Disconnected, e.Type);
        }
        var after = await Assert.ThrowsAsync<RpcException>(() => InteropCalls.EchoAsync(echo, "gone"));
        Assert.Equal(RpcErrorType.Disconnected, after.Type);
        foreach (RpcRequest r in requests)
        {
            r.Dispose();
        }
    }
}
