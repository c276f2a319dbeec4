namespace Wetware.GuestSdk.Tests;

/// <summary>The host hands the guest a promise (senderPromise) and settles it later (Resolve).</summary>
public sealed class PromiseTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task APromiseThatResolvesToAHostObjectTakesTheCallsMadeBeforeAndAfter()
    {
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["resolve-remote"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal(("a", "b", "c"), (v["a"], v["b"], v["c"]));
        Assert.Equal(["a", "b", "c"], g.Bootstrap.Tester.Log);
        Assert.Equal("1", v["resolves"]);
        Assert.Equal("0", v["embargoes"]); // resolved to the host's own object: nothing to embargo
        Assert.Equal("0,0,0,0,0", v["tables"]);
    }

    [Fact]
    public async Task APromiseThatResolvesToTheGuestsOwnObjectIsEmbargoedSoCallsKeepTheirOrder()
    {
        // "a" went to the host before the Resolve and comes back to the guest's object through the host;
        // "b" and "c" are made after: the guest holds them (embargo) until its Disembargo has come back.
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["resolve-local"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal(("a", "b", "c"), (v["a"], v["b"], v["c"]));
        Assert.Equal("a,b,c", v["order"]);
        Assert.Empty(g.Bootstrap.Tester.Log);
        Assert.Equal("1", v["resolves"]);
        Assert.Equal("1", v["embargoes"]); // one Disembargo (senderLoopback), echoed by the host
        Assert.Equal("0,0,0,0,0", v["tables"]);
    }
}
