using System.Text;
using Wetware.Capnp.Rpc;
using Wetware.Schema;

namespace Wetware.Host.Tests;

public sealed class MembraneTests(TestGuests guests) : IClassFixture<TestGuests>
{
    [Fact]
    public async Task GraftGivesFourCapabilitiesThatWork()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        using (var echo = await s.Executor.EchoAsync("hello"))
        {
            Assert.Equal("hello", echo.Results.Response.ToString());
        }
        using (var id = await s.Host.IdAsync())
        {
            Assert.Equal(0, id.Results.PeerId.Length); // no node key in this harness
        }
        using (var addrs = await s.Host.AddrsAsync())
        {
            Assert.Equal(0, addrs.Results.Addrs.Count);
        }
        var e = await Assert.ThrowsAsync<RpcException>(async () => await s.Host.NewConnect().Send());
        Assert.Equal(RpcErrorType.Unimplemented, e.Type);
        // No IPFS node in this harness; the sub-APIs the host does not offer answer unimplemented.
        e = await Assert.ThrowsAsync<RpcException>(async () => await s.Ipfs.ResolvePathAsync("/ipfs/x"));
        Assert.Equal("ipfs: this host has no IPFS node configured", e.Reason);
        e = await Assert.ThrowsAsync<RpcException>(async () => await s.Ipfs.NewDag().Send());
        Assert.Equal(RpcErrorType.Unimplemented, e.Type);
        using (var epoch = await membrane.EpochAsync())
        {
            Assert.Equal(0ul, epoch.Results.Epoch.Seq);
        }
    }

    [Fact]
    public async Task EchoPipelinedThroughHostExecutorManyTimes()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        // host.executor() used before it arrives, 1000 echoes in flight.
        using Executor.Client executor = s.Host.ExecutorAsync().Pipeline.GetExecutor();
        var calls = Enumerable.Range(0, 1000).Select(i => executor.EchoAsync(i.ToString()).AsTask()).ToArray();
        Response<Executor.EchoResults.Reader>[] all = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => i.ToString()), all.Select(r => r.Results.Response.ToString()));
        foreach (var r in all)
        {
            r.Dispose();
        }
    }

    [Fact]
    public async Task AfterTheEpochMovesOldCapabilitiesAreStaleAndAGraftIsFresh()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session old = await Session.GraftAsync(membrane);
        using Executor.Client viaHost = (await s_executor(old)).Executor;
        h.Epochs.Advance(new EpochInfo(1, new byte[] { 1, 2 }, 42));

        var e = await Assert.ThrowsAsync<RpcException>(async () => await old.Executor.EchoAsync("x"));
        Assert.Equal(RpcErrorType.Failed, e.Type);
        Assert.StartsWith("staleEpoch:", e.Reason);
        e = await Assert.ThrowsAsync<RpcException>(async () => await viaHost.EchoAsync("x"));
        Assert.StartsWith("staleEpoch:", e.Reason);
        e = await Assert.ThrowsAsync<RpcException>(async () => await old.Host.IdAsync());
        Assert.StartsWith("staleEpoch:", e.Reason);

        using Session fresh = await Session.GraftAsync(membrane);
        using (var r = await fresh.Executor.EchoAsync("new epoch"))
        {
            Assert.Equal("new epoch", r.Results.Response.ToString());
        }
        using (var epoch = await membrane.EpochAsync())
        {
            Assert.Equal((1ul, 42ul), (epoch.Results.Epoch.Seq, epoch.Results.Epoch.AdoptedBlock));
            Assert.Equal(new byte[] { 1, 2 }, epoch.Results.Epoch.Head.ToArray());
        }

        static async Task<(Executor.Client Executor, int _)> s_executor(Session s)
        {
            using var r = await s.Host.ExecutorAsync();
            return (r.GetClient<Executor.Client>(r.Results.Executor)!, 0);
        }
    }

    [Fact]
    public async Task ASignerFromAnotherKeyIsNotAuthorizedAndAMissingOneIsRequiredWhenThePolicySaysSo()
    {
        await using (var h = new HostHarness(policy: new GraftPolicy(SignerRequired: true)))
        {
            using Membrane.Client membrane = await h.MembraneAsync();
            var e = await Assert.ThrowsAsync<RpcException>(async () => await membrane.GraftAsync(null));
            Assert.Equal("graft auth failed: missing signer", e.Reason);
        }
        await using (var h = new HostHarness())
        {
            using Membrane.Client membrane = await h.MembraneAsync();
            using var signer = Signer.Client.FromServer(new FixedSigner(new byte[] { 8, 2, 18, 1, 7 }, new byte[64]));
            var e = await Assert.ThrowsAsync<RpcException>(async () => await membrane.GraftAsync(signer));
            Assert.Equal("graft auth failed: key not authorized", e.Reason);
        }
    }

    [Fact]
    public async Task ASignerThatNeverAnswersTimesOut()
    {
        await using var h = new HostHarness(signerTimeout: TimeSpan.FromMilliseconds(300));
        using Membrane.Client membrane = await h.MembraneAsync();
        using var signer = Signer.Client.FromServer(new HangingSigner());
        var e = await Assert.ThrowsAsync<RpcException>(async () => await membrane.GraftAsync(signer));
        Assert.Equal("graft auth failed: signer did not answer", e.Reason);
    }

    private sealed class FixedSigner(byte[] publicKey, byte[] sig) : Signer.Server
    {
        public override ValueTask SignAsync(Signer.SignParams.Reader @params, Signer.SignResults.Builder results, CallContext context)
        {
            results.SetPublicKey(publicKey);
            results.SetSig(sig);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class HangingSigner : Signer.Server
    {
        public override async ValueTask SignAsync(Signer.SignParams.Reader @params, Signer.SignResults.Builder results, CallContext context) =>
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
    }

    [Fact]
    public async Task RunBytesStartsAChildWhoseStreamsWaitAndExitCodeArrive()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        using var run = await s.Executor.RunBytesAsync(guests.Bytes("cat"));
        using Process.Client process = run.GetClient<Process.Client>(run.Results.Process)!;
        using ByteStream.Client stdin = process.StdinAsync().Pipeline.GetStream();
        using ByteStream.Client stdout = process.StdoutAsync().Pipeline.GetStream();
        (await stdin.WriteAsync(Encoding.UTF8.GetBytes("through the child\n"))).Dispose();
        (await stdin.CloseAsync()).Dispose();
        var text = new StringBuilder();
        while (true)
        {
            using var r = await stdout.ReadAsync(1 << 20); // clamped to 64 KiB
            if (r.Results.Data.Length == 0)
            {
                break;
            }
            Assert.InRange(r.Results.Data.Length, 1, 64 * 1024);
            text.Append(Encoding.UTF8.GetString(r.Results.Data.Span));
        }
        Assert.Equal("through the child\n", text.ToString());
        using var wait = await process.WaitAsync();
        Assert.Equal(0, wait.Results.ExitCode);
        using var again = await process.WaitAsync(); // any number of times
        Assert.Equal(0, again.Results.ExitCode);
    }

    [Fact]
    public async Task ArgsAndEnvReachTheChildAndBadEnvIsRefused()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        var req = s.Executor.NewRunBytes();
        Executor.RunBytesParams.Builder p = req.Params;
        p.SetWasm(guests.Bytes("hello"));
        Capnp.TextListBuilder args = p.InitArgs(2);
        args.Set(0, "one");
        args.Set(1, "two");
        Capnp.TextListBuilder env = p.InitEnv(1);
        env.Set(0, "EXIT_CODE=7");
        using var run = await req.Send();
        using Process.Client process = run.GetClient<Process.Client>(run.Results.Process)!;
        using ByteStream.Client stdout = process.StdoutAsync().Pipeline.GetStream();
        var text = new StringBuilder();
        while (true)
        {
            using var r = await stdout.ReadAsync(4096);
            if (r.Results.Data.Length == 0)
            {
                break;
            }
            text.Append(Encoding.UTF8.GetString(r.Results.Data.Span));
        }
        Assert.Contains("argv[0]=wasm", text.ToString());
        Assert.Contains("argv[1]=one", text.ToString());
        Assert.Contains("argv[2]=two", text.ToString());
        Assert.Contains("env EXIT_CODE=7", text.ToString());
        Assert.DoesNotContain("PATH", text.ToString()); // children get exactly env
        using var wait = await process.WaitAsync();
        Assert.Equal(7, wait.Results.ExitCode);

        var bad = s.Executor.NewRunBytes();
        Executor.RunBytesParams.Builder bp = bad.Params;
        bp.SetWasm(guests.Bytes("hello"));
        bp.InitEnv(1).Set(0, "NOEQUALS");
        var e = await Assert.ThrowsAsync<RpcException>(async () => await bad.Send());
        Assert.Contains("NOEQUALS", e.Reason);
    }

    [Fact]
    public async Task ModulesThatCannotStartFailTheCallWithTheReason()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await s.Executor.RunBytesAsync(new byte[] { 0, 1, 2, 3 }));
        Assert.Equal(RpcErrorType.Failed, e.Type);
        Assert.StartsWith("runBytes:", e.Reason);
    }

    [Fact]
    public async Task KillStopsAChildInALoopAndWaitGives137()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        using var run = await s.Executor.RunBytesAsync(guests.Bytes("spin"));
        using Process.Client process = run.GetClient<Process.Client>(run.Results.Process)!;
        (await process.KillAsync()).Dispose();
        using var wait = await process.WaitAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(137, wait.Results.ExitCode);
    }

    [Fact]
    public async Task DroppingEveryReferenceToAProcessKillsTheChild()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        var run = await s.Executor.RunBytesAsync(guests.Bytes("cat")); // waits on its stdin forever
        Process.Client process = run.GetClient<Process.Client>(run.Results.Process)!;
        using ByteStream.Client stdout = process.StdoutAsync().Pipeline.GetStream();
        Task<Response<ByteStream.ReadResults.Reader>> read = stdout.ReadAsync(100).AsTask();
        await Task.Delay(200);
        Assert.False(read.IsCompleted); // cat has written nothing
        process.Dispose();
        run.Dispose(); // the last reference to the Process: the child is killed, so its stdout ends
        using Response<ByteStream.ReadResults.Reader> r = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, r.Results.Data.Length);
    }

    [Fact]
    public async Task SpawnWithoutABootstrapGivesTheChildNothingAndBootstrapOfAChildThatExportsNothingIsNull()
    {
        await using var h = new HostHarness();
        using Membrane.Client membrane = await h.MembraneAsync();
        using Session s = await Session.GraftAsync(membrane);
        using var run = await s.Executor.SpawnAsync(guests.Bytes("spin"), null);
        using Process.Client process = run.GetClient<Process.Client>(run.Results.Process)!;
        (await process.KillAsync()).Dispose();
        using var boot = await process.BootstrapAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null(boot.Results.Cap);
    }
}
