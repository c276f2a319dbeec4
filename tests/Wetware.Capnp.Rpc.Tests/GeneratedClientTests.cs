using Wetware.Capnp.Rpc.Tests.Interop;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>The generated proxies (Echo.Client), server bases (Echo.Server) and pipelines, over a connection.</summary>
public sealed class GeneratedClientTests : IAsyncLifetime
{
    private readonly InteropEcho _server = new();
    private RpcConnection _client = null!;
    private RpcConnection _host = null!;
    private Echo.Client _echo = null!;

    public async Task InitializeAsync()
    {
        var (a, b) = DuplexPipe.CreatePair();
        using (Echo.Client bootstrap = Echo.Client.FromServer(_server))
        {
            _host = new RpcConnection(b, bootstrap.Capability);
        }
        _client = new RpcConnection(a);
        _host.Start();
        _client.Start();
        _echo = new Echo.Client(await _client.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    public async Task DisposeAsync()
    {
        _echo.Dispose();
        await _client.DisposeAsync();
        await _host.DisposeAsync();
    }

    private async Task WaitIdle()
    {
        RpcTableCounts client = new(0, 0, 1, 0, 0), host = new(0, 0, 0, 1, 0);
        for (int i = 0; i < 500 && (_client.Counts != client || _host.Counts != host); i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal(client, _client.Counts);
        Assert.Equal(host, _host.Counts);
    }

    [Fact]
    public async Task ConvenienceCallAndRequestBuilderBothWork()
    {
        using (Response<Echo.EchoResults.Reader> r = await _echo.EchoAsync("hi"))
        {
            Assert.Equal("hi", r.Results.Text.ToString());
        }
        var request = _echo.NewEcho();
        request.Params.SetText("built");
        using (Response<Echo.EchoResults.Reader> r = await request.Send())
        {
            Assert.Equal("built", r.Results.Text.ToString());
        }
        using (Response<Echo.GetCallsResults.Reader> r = await _echo.GetCallsAsync())
        {
            Assert.Equal(2u, r.Results.Calls);
        }
        await WaitIdle();
    }

    [Fact]
    public async Task ServerExceptionsArriveTyped()
    {
        var e = await Assert.ThrowsAsync<RpcException>(async () => await _echo.FailAsync("because"));
        Assert.Equal(RpcErrorType.Failed, e.Type);
        Assert.Equal("requested failure: because", e.Reason);
    }

    [Fact]
    public async Task MethodsNotOverriddenAnswerUnimplemented()
    {
        using var partial = Echo.Client.FromServer(new EchoOnly());
        using (Response<Echo.EchoResults.Reader> r = await partial.EchoAsync("x"))
        {
            Assert.Equal("x", r.Results.Text.ToString());
        }
        var e = await Assert.ThrowsAsync<RpcException>(async () => await partial.BigAsync(1));
        Assert.Equal(RpcErrorType.Unimplemented, e.Type);
        Assert.Contains("Echo.big", e.Reason);

        // A call of another interface's method on an Echo server.
        using var wrong = new Counter.Client(partial.Capability.Clone());
        e = await Assert.ThrowsAsync<RpcException>(async () => await wrong.IncrementAsync());
        Assert.Equal(RpcErrorType.Unimplemented, e.Type);
    }

    [Fact]
    public async Task PipelinedCallsUseTheCounterBeforeItArrives()
    {
        RpcCall<Echo.MakeCounterResults.Reader, Echo.MakeCounterResults.Pipeline> make = _echo.MakeCounterAsync(41);
        using (Counter.Client counter = make.Pipeline.GetCounter())
        {
            // Both increments are sent before the makeCounter answer is awaited.
            var first = counter.IncrementAsync().AsTask();
            var second = counter.IncrementAsync().AsTask();
            using (Response<Counter.IncrementResults.Reader> r = await first)
            {
                Assert.Equal(42u, r.Results.Value);
            }
            using (Response<Counter.IncrementResults.Reader> r = await second)
            {
                Assert.Equal(43u, r.Results.Value);
            }
        }
        using (Response<Echo.MakeCounterResults.Reader> made = await make)
        using (Counter.Client? same = made.GetClient<Counter.Client>(made.Results.Counter))
        {
            Assert.NotNull(same);
            using Response<Counter.IncrementResults.Reader> r = await same.IncrementAsync();
            Assert.Equal(44u, r.Results.Value);
        }
        await WaitIdle();
    }

    [Fact]
    public async Task CallbacksGoBackThroughTheConnection()
    {
        var local = new InteropEcho();
        using (var callback = Echo.Client.FromServer(local))
        using (Response<Echo.CallBackResults.Reader> r = await _echo.CallBackAsync(callback, "ping"))
        {
            Assert.Equal("called back: ping", r.Results.Text.ToString());
        }
        Assert.Equal(1, local.Calls);
        await WaitIdle();
    }

    [Fact]
    public async Task LargeResultsArriveWhole()
    {
        using Response<Echo.BigResults.Reader> r = await _echo.BigAsync(8 << 20);
        ReadOnlySpan<byte> data = r.Results.Data.Span;
        Assert.Equal(8 << 20, data.Length);
        Assert.Equal(unchecked((byte)(12345 * 7)), data[12345]);
    }

    [Fact]
    public async Task CancelingACallCancelsTheServerWork()
    {
        using var cts = new CancellationTokenSource();
        Task<Response<Echo.SlowResults.Reader>> slow = _echo.SlowAsync(cts.Token).AsTask();
        await Task.Delay(50);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
        await _server.SlowCanceled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitIdle();
    }

    [Fact]
    public async Task LocalClientsCallTheServerDirectly()
    {
        var server = new InteropEcho();
        using var echo = Echo.Client.FromServer(server);
        using (Response<Echo.EchoResults.Reader> r = await echo.EchoAsync("local"))
        {
            Assert.Equal("local", r.Results.Text.ToString());
        }
        using Counter.Client counter = echo.MakeCounterAsync(1).Pipeline.GetCounter();
        using Response<Counter.IncrementResults.Reader> inc = await counter.IncrementAsync();
        Assert.Equal(2u, inc.Results.Value);
    }

    private sealed class EchoOnly : Echo.Server
    {
        public override ValueTask EchoAsync(Echo.EchoParams.Reader @params, Echo.EchoResults.Builder results, CallContext context)
        {
            results.SetText(@params.Text.ToString());
            return ValueTask.CompletedTask;
        }
    }
}
