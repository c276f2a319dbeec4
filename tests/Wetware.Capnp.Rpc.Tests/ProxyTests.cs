using Wetware.Capnp.Rpc.Tests.Interop;

namespace Wetware.Capnp.Rpc.Tests;

/// <summary>
/// A capability imported on one connection and served on another (the host's <c>/ww/0.1.0</c> export and
/// <c>Host.dial</c> do this): calls, pipelining, capabilities in both directions and errors pass through
/// the middle, and the middle's tables drain when the far end lets go.
/// </summary>
public sealed class ProxyTests : IAsyncLifetime
{
    private readonly InteropEcho _server = new();
    private RpcConnection _serverSide = null!, _middleIn = null!, _middleOut = null!, _client = null!;
    private Echo.Client _echo = null!;

    public async Task InitializeAsync()
    {
        // server <-> middle: the middle imports the Echo ...
        var (s, m1) = DuplexPipe.CreatePair();
        using (Echo.Client bootstrap = Echo.Client.FromServer(_server))
        {
            _serverSide = new RpcConnection(s, bootstrap.Capability);
        }
        _middleIn = new RpcConnection(m1);
        _serverSide.Start();
        _middleIn.Start();
        using Capability imported = await _middleIn.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10));
        // ... and serves it as its own bootstrap on middle <-> client, with a release hook as dial uses.
        var (m2, c) = DuplexPipe.CreatePair();
        using (Capability served = Capability.OnRelease(imported, () => Released.TrySetResult()))
        {
            _middleOut = new RpcConnection(m2, served);
        }
        _client = new RpcConnection(c);
        _middleOut.Start();
        _client.Start();
        _echo = new Echo.Client(await _client.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task DisposeAsync()
    {
        _echo.Dispose();
        await _client.DisposeAsync();
        await _middleOut.DisposeAsync();
        await _middleIn.DisposeAsync();
        await _serverSide.DisposeAsync();
    }

    [Fact]
    public async Task CallsAndErrorsPassThroughTheMiddle()
    {
        using (Response<Echo.EchoResults.Reader> r = await _echo.EchoAsync("through").AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal("through", r.Results.Text.ToString());
        }
        var e = await Assert.ThrowsAsync<RpcException>(async () => await _echo.FailAsync("far away").AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(RpcErrorType.Failed, e.Type);
        Assert.Equal("requested failure: far away", e.Reason);
    }

    [Fact]
    public async Task PipelinedCallsPassThroughTheMiddle()
    {
        RpcCall<Echo.MakeCounterResults.Reader, Echo.MakeCounterResults.Pipeline> make = _echo.MakeCounterAsync(41);
        using (Counter.Client counter = make.Pipeline.GetCounter())
        {
            var first = counter.IncrementAsync().AsTask();
            var second = counter.IncrementAsync().AsTask();
            using (Response<Counter.IncrementResults.Reader> r = await first.WaitAsync(TimeSpan.FromSeconds(10)))
            {
                Assert.Equal(42u, r.Results.Value);
            }
            using (Response<Counter.IncrementResults.Reader> r = await second.WaitAsync(TimeSpan.FromSeconds(10)))
            {
                Assert.Equal(43u, r.Results.Value);
            }
        }
        using Response<Echo.MakeCounterResults.Reader> made = await make;
    }

    [Fact]
    public async Task CallbacksCrossBothConnectionsBack()
    {
        var local = new InteropEcho();
        using (var callback = Echo.Client.FromServer(local))
        using (Response<Echo.CallBackResults.Reader> r = await _echo.CallBackAsync(callback, "ping").AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal("called back: ping", r.Results.Text.ToString());
        }
        Assert.Equal(1, local.Calls);
    }

    [Fact]
    public async Task ACapabilityHandedBackStillWorks()
    {
        using var counter = Counter.Client.FromServer(new InteropCounter(7));
        using Response<Echo.IdentityResults.Reader> r = await _echo.IdentityAsync(counter).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        using Counter.Client? back = r.GetClient<Counter.Client>(r.Results.Counter);
        Assert.NotNull(back);
        using Response<Counter.IncrementResults.Reader> inc = await back.IncrementAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(8u, inc.Results.Value);
    }

    [Fact]
    public async Task DroppingTheLastReferenceRunsTheReleaseHookAndDrainsTheMiddle()
    {
        using (Response<Echo.EchoResults.Reader> r = await _echo.EchoAsync("x").AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
        {
        }
        Assert.False(Released.Task.IsCompleted);
        _echo.Dispose();
        // The client's Release reaches the middle, which drops the bootstrap's export; the hook runs with the
        // middle's own reference (the connection's bootstrap) gone too once it is disposed.
        await _middleOut.DisposeAsync();
        await Released.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
