namespace Wetware.GuestSdk.Tests;

/// <summary>
/// The guest's process helpers over Executor.runBytes/spawn, Process and ByteStream, against a fake
/// process on the host side (the real ones come with Wetware.Host).
/// </summary>
public sealed class ChildrenTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task AGuestStartsAChildWritesItsStdinReadsItsStdoutAndWaitsForIt()
    {
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["children"]);
        GuestResult r = await g.CompletionAsync();

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("child got: to the child", v["stdout"]);
        Assert.Equal("0", v["exit"]);
        Assert.Equal("hi child", v["child-echo"]);
        Assert.Equal("137", v["killed"]);
        // One export left: the (fake) spawned process still holds the guest's object it was given.
        Assert.Equal("0,0,0,1,0", v["tables"]);

        FakeProcess[] started = [.. g.Bootstrap.Membrane.Executor.Started];
        Assert.Equal(2, started.Length);
        Assert.Equal(new byte[] { 0, (byte)'a', (byte)'s', (byte)'m', 1, 0, 0, 0 }, started[0].Wasm);
        Assert.Equal(["one", "two"], started[0].Args);
        Assert.Equal(["A=1"], started[0].Env);
        Assert.Null(started[0].SpawnBootstrap);
        // spawn carried the guest's own object as the child's bootstrap.
        Assert.NotNull(started[1].SpawnBootstrap);
    }
}
