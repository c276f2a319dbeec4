namespace Wetware.GuestSdk.Tests;

/// <summary>A C guest grafts onto the (test) Membrane and calls through its session.</summary>
public sealed class GraftTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task AGuestGraftsAndCallsEchoEpochAndHostId()
    {
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["graft"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("hello", v["echo"]);
        Assert.Equal("7,42,cafe", v["epoch"]);
        Assert.Equal(Convert.ToHexStringLower(TestMembrane.PeerId), v["peer"]);
        Assert.Equal("1", v["identity"]);
        Assert.Equal("0", v["ipfs"]);
        Assert.Equal(1, g.Bootstrap.Membrane.Grafts);
    }

    [Fact]
    public async Task AHundredThousandPipelinedEchoCallsFinish()
    {
        // The first calls go out pipelined on graft's answer; then 100 stay in flight until all are done.
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["echo-many", "100000", "100"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("100000", r.Values()["done"]);
        Assert.Equal("0", r.Values()["errors"]);
        Assert.Equal(100_000, g.Bootstrap.Membrane.Executor.Echoes);
        // After the storm, with everything released: no question, answer, import or export is left.
        Assert.Equal("0,0,0,0,0", r.Values()["tables"]);
    }

    [Fact]
    public async Task AGuestPipelinesACallOnAnAnswerItHasNotReceived()
    {
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["pipeline"]);
        // executor() answers only once the echo pipelined on its answer has arrived: a guest that waited
        // for the answer before calling would never get one.
        g.Bootstrap.Membrane.Host.BeforeExecutor = async () =>
        {
            for (int i = 0; i < 1000 && g.Connection!.Counts.Answers < 2; i++)
            {
                await Task.Delay(10);
            }
            Assert.True(g.Connection!.Counts.Answers >= 2, "the pipelined call did not arrive before its target's answer");
        };
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("through a promise", r.Values()["pipelined"]);
    }
}
