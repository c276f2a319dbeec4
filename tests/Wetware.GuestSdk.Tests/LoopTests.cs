using System.IO.Pipelines;
using Wetware.GuestSdk.Tests.Schema;

namespace Wetware.GuestSdk.Tests;

/// <summary>The guest's event loop: it blocks when there is nothing to do, and serves fd 0 and fd 4 together.</summary>
public sealed class LoopTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task AnIdleGuestBlocksInsteadOfSpinning()
    {
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["serve"]);
        using var tester = new Tester.Client(await g.Connection!.BootstrapAsync().WaitAsync(GuestHarness.Timeout));
        using (await tester.EchoAsync("before"))
        {
        }
        await Task.Delay(500);
        using (await tester.EchoAsync("after"))
        {
        }
        GuestResult r = await g.CloseAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        // A handful of polls for a few messages; a loop that spun through half a second would count thousands.
        Assert.InRange(long.Parse(r.Values()["turns"]), 1, 40);
    }

    [Fact]
    public async Task StdinAndTheHostsCallsAreServedByTheSameLoop()
    {
        var stdin = new Pipe();
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["stdin"], stdinReader: stdin.Reader);
        using var tester = new Tester.Client(await g.Connection!.BootstrapAsync().WaitAsync(GuestHarness.Timeout));

        await stdin.Writer.WriteAsync("abc"u8.ToArray());
        using (var r = await tester.EchoAsync("while reading stdin"))
        {
            Assert.Equal("while reading stdin", r.Results.Text.ToString());
        }
        await stdin.Writer.WriteAsync("defg"u8.ToArray());
        using (var r = await tester.EchoAsync("still"))
        {
            Assert.Equal("still", r.Results.Text.ToString());
        }
        await stdin.Writer.CompleteAsync();
        GuestResult result = await g.CompletionAsync();

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("7", result.Values()["stdin"]);
        Assert.Equal("0", result.Values()["status"]);
        Assert.Equal("2", result.Values()["served"]);
    }
}
