using Wetware.Capnp.Rpc;
using Wetware.GuestSdk.Tests.Schema;

namespace Wetware.GuestSdk.Tests;

/// <summary>A guest exports a capability (its bootstrap) and the C# side calls it.</summary>
public sealed class ServeTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private static async Task<(GuestHarness Guest, Tester.Client Tester)> ServeAsync(EngineFixture fixture)
    {
        GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["serve"]);
        var tester = new Tester.Client(await g.Connection!.BootstrapAsync().WaitAsync(GuestHarness.Timeout));
        return (g, tester);
    }

    [Fact]
    public async Task TheHostCallsWhatTheGuestExports()
    {
        var (g, tester) = await ServeAsync(fixture);
        await using (g)
        {
            using (tester)
            {
                using (var r = await tester.EchoAsync("from C#"))
                {
                    Assert.Equal("from C#", r.Results.Text.ToString());
                }
                // The guest calls back into the host while it serves the call (answered from a callback).
                using var mine = Tester.Client.FromServer(g.Bootstrap.Tester);
                using (var r = await tester.CallBackAsync(mine, "round trip"))
                {
                    Assert.Equal("round trip", r.Results.Text.ToString());
                }
                Assert.Equal(["round trip"], g.Bootstrap.Tester.Log);
                using (var r = await tester.LogAsync())
                {
                    Assert.Equal(["from C#"], r.Results.Entries.ToStrings());
                }
            }
            GuestResult result = await g.CloseAsync();
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal("3", result.Values()["served"]);
        }
    }

    [Fact]
    public async Task ExceptionsFromTheGuestArriveWithTheirTypeAndReason()
    {
        var (g, tester) = await ServeAsync(fixture);
        await using (g)
        {
            using (tester)
            {
                RpcException e = await Assert.ThrowsAsync<RpcException>(async () => await tester.FailAsync("because I said so"));
                Assert.Equal(RpcErrorType.Failed, e.Type);
                Assert.Equal("because I said so", e.Reason);

                // A method the guest does not serve, and an interface it does not know.
                RpcException u = await Assert.ThrowsAsync<RpcException>(async () =>
                {
                    using RpcRequest request = tester.Capability.NewRequest(Tester.TypeId, 99);
                    request.Params.InitStruct(0, 0);
                    using RpcResponse _ = await request.SendAsync();
                });
                Assert.Equal(RpcErrorType.Unimplemented, u.Type);
                Assert.Equal("method 99 of Tester is not implemented by this guest", u.Reason);
                RpcException i = await Assert.ThrowsAsync<RpcException>(async () =>
                {
                    using RpcRequest request = tester.Capability.NewRequest(0x1234, 0);
                    request.Params.InitStruct(0, 0);
                    using RpcResponse _ = await request.SendAsync();
                });
                Assert.Equal(RpcErrorType.Unimplemented, i.Type);

                // The connection is still fine.
                using var r = await tester.EchoAsync("still here");
                Assert.Equal("still here", r.Results.Text.ToString());
            }
        }
    }

    [Fact]
    public async Task ExceptionsFromTheHostReachTheGuestWithTheirTypeAndReason()
    {
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["fail"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("-1", v["wait"]);
        Assert.Equal("0:no particular reason", v["error"]);
        Assert.StartsWith("3:", v["unknown"]);
        Assert.Contains("not implemented", v["unknown"]);
        Assert.Equal("0:call on a null capability", v["null"]);
    }

    [Fact]
    public async Task CallsTheHostPipelinesOnAGuestAnswerComeBackThroughTheGuestInOrder()
    {
        // rpc.capnp, Disembargo: the host pipelines echo on give()'s answer; give() returns the host's own
        // Tester, so the guest forwards those calls back, and the host embargoes until the guest has echoed
        // its Disembargo (senderLoopback) behind them.
        var (g, tester) = await ServeAsync(fixture);
        await using (g)
        {
            using (tester)
            {
                using (var mine = Tester.Client.FromServer(g.Bootstrap.Tester))
                using (await tester.HoldAsync(mine))
                {
                }
                var give = tester.GiveAsync();
                using Tester.Client given = give.Pipeline.GetCap();
                var first = given.EchoAsync("1").AsTask();
                var second = given.EchoAsync("2").AsTask();
                using (await give)
                {
                }
                var third = given.EchoAsync("3").AsTask();
                foreach (var (call, text) in new[] { (first, "1"), (second, "2"), (third, "3") })
                {
                    using var r = await call.WaitAsync(GuestHarness.Timeout);
                    Assert.Equal(text, r.Results.Text.ToString());
                }
                Assert.Equal(["1", "2", "3"], g.Bootstrap.Tester.Log);
            }
            GuestResult result = await g.CloseAsync();
            Assert.True(result.ExitCode == 0, result.ToString());
            Dictionary<string, string> v = result.Values();
            Assert.True(v["loopbacks"] == "1", result.ToString());
            Assert.Equal("1", v["loopbacks"]); // the host's senderLoopback, echoed once
            Assert.Equal("2", v["forwarded"]); // "1" and "2" went back to the host through the guest
        }
    }

    [Fact]
    public async Task AGuestHandlerMayWaitOnACallOfItsOwn()
    {
        // callBack("wait:...") makes its call with ww_wait inside the handler: the loop runs nested.
        var (g, tester) = await ServeAsync(fixture);
        await using (g)
        {
            using (tester)
            {
                using var mine = Tester.Client.FromServer(g.Bootstrap.Tester);
                using var r = await tester.CallBackAsync(mine, "wait:nested");
                Assert.Equal("wait:nested", r.Results.Text.ToString());
                using var again = await tester.EchoAsync("after");
                Assert.Equal("after", again.Results.Text.ToString());
            }
            Assert.Equal(0, (await g.CloseAsync()).ExitCode);
        }
    }

    [Fact]
    public async Task TheHostCancelingACallReachesTheGuestsHandler()
    {
        var (g, tester) = await ServeAsync(fixture);
        await using (g)
        {
            using (tester)
            {
                using var cts = new CancellationTokenSource();
                Task hang = tester.HangAsync(cts.Token).AsTask();
                await Task.Delay(100);
                cts.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hang.WaitAsync(GuestHarness.Timeout));
                // The guest saw the Finish (its handler polls ww_ctx_canceled) and answered.
                for (int i = 0; i < 200; i++)
                {
                    using var log = await tester.LogAsync();
                    if (log.Results.Entries.ToStrings() is [var entry] && entry.Contains("hang canceled"))
                    {
                        break;
                    }
                    Assert.True(i < 199, "the guest never saw the cancellation");
                    await Task.Delay(10);
                }
            }
            GuestResult result = await g.CloseAsync();
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal("0,0,0,0,0", result.Values()["tables"]);
        }
    }

    [Fact]
    public async Task AGuestGivingUpOnACallCancelsItAtTheHost()
    {
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["cancel"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        await g.Bootstrap.Tester.HangCanceled.Task.WaitAsync(GuestHarness.Timeout);
        Assert.Equal("ok", r.Values()["after"]);
        Assert.Equal("0,0,0,0,0", r.Values()["tables"]);
    }
}
