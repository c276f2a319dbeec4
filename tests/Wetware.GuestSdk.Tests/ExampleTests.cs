using Wetware.Cells;

namespace Wetware.GuestSdk.Tests;

/// <summary>The documented example guest (guest/sdk/examples/hello.c) does what its comments say.</summary>
public sealed class ExampleTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task TheHelloExampleGraftsCallsPipelinesRunsAChildAndServes()
    {
        // Its image holds the child it runs (the fake executor only records it and answers for it).
        string image = Path.Combine(Path.GetTempPath(), "ww-sdk-example-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(image);
        try
        {
            File.Copy(Path.Combine(Sdk.Directory, "examples/upper.wasm"), Path.Combine(image, "upper.wasm"));
            await using GuestHarness g = await GuestHarness.StartAsync(fixture, "examples/hello", ["/upper.wasm"], image: new HostDirectoryImage(image));

            // What it exports: an Executor whose echo shouts.
            using var shouter = new Wetware.Schema.Executor.Client(await g.Connection!.BootstrapAsync().WaitAsync(GuestHarness.Timeout));
            using (var r = await shouter.EchoAsync("quiet please"))
            {
                Assert.Equal("QUIET PLEASE", r.Results.Response.ToString());
            }
            // Its ticks start once it has run its child; the last comes 300 ms later. Closing only then
            // (not after a fixed time, which a busy machine or a stalled thread pool can outlast: the child's
            // calls then meet a closed connection) is what lets every line below be there.
            await g.StdoutLineAsync("tick 3 ");
            GuestResult result = await g.CloseAsync();

            Assert.True(result.ExitCode == 0, result.ToString());
            string[] lines = result.Stdout.Split('\n');
            Assert.Contains("echo: hello", lines);
            Assert.Contains("peer id: " + Convert.ToHexStringLower(TestMembrane.PeerId), lines);
            Assert.Contains("pipelined echo: pipelined hello", lines);
            Assert.Contains("epoch: seq 7, block 42", lines);
            Assert.Contains("child got: hello, child", lines);
            Assert.Contains("child exited with 0", lines);
            Assert.Contains("tick 3 (served 1 calls so far)", lines);
            Assert.Contains("the loop ended (1): the host closed the connection", lines);
            FakeProcess child = Assert.Single(g.Bootstrap.Membrane.Executor.Started);
            Assert.Equal(File.ReadAllBytes(Path.Combine(image, "upper.wasm")), child.Wasm);
            Assert.Equal(["--shout"], child.Args);
            Assert.Equal(["GREETING=hi"], child.Env);
        }
        finally
        {
            Directory.Delete(image, recursive: true);
        }
    }
}
