using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Wetware.Capnp;
using Wetware.Capnp.Rpc;
using Wetware.Cells;
using Wetware.Schema;
using P = Wetware.Host.Tests.Protocol;

namespace Wetware.Host.Tests;

/// <summary>Guests that put hostile bytes on fd 4: each loses only its own connection; the host goes on.</summary>
public sealed class HostileGuestTests(TestGuests guests) : IClassFixture<TestGuests>, IDisposable
{
    private readonly CellEngine _engine = new(new CellEngineOptions { Cache = new ModuleCache(Path.Combine(AppContext.BaseDirectory, "module-cache")) });

    public void Dispose() => _engine.Dispose();

    private HostContext Context() => new(NoIdentity.Instance, new EpochSource(), _engine, NullLogger.Instance);

    /// <summary>Runs fd4pipe with <paramref name="bytes"/> as what it writes to fd 4, served the boot membrane.</summary>
    private async Task<GuestSession> StartAsync(HostContext host, byte[] bytes, string mode)
    {
        var stdin = new Pipe();
        using Capability membrane = Capability.FromServer(new MembraneServer(host, GraftPolicy.Boot, null));
        GuestSession session = await GuestSession.StartAsync(_engine, guests.Bytes("fd4pipe"), new CellOptions { Args = ["wasm", mode], Stdin = stdin.Reader },
            membrane, null, NullLogger.Instance, CancellationToken.None);
        // Fed as the guest reads (the pipe pushes back past 64 KiB).
        _ = Task.Run(async () =>
        {
            await stdin.Writer.WriteAsync(bytes);
            if (mode == "read")
            {
                await stdin.Writer.CompleteAsync();
            }
        });
        return session;
    }

    private static byte[] Frame(Action<P.Message.Builder> fill)
    {
        using var m = new MessageBuilder();
        fill(m.InitRoot<P.Message.Builder>());
        return Framing.ToArray(m);
    }

    /// <summary>The host still serves a well-behaved client after a hostile guest.</summary>
    private static async Task HostStillWorks(HostContext host)
    {
        var (a, b) = DuplexPipe.CreatePair();
        using Capability membrane = Capability.FromServer(new MembraneServer(host, GraftPolicy.Boot, null));
        await using var served = new RpcConnection(b, membrane);
        await using var client = new RpcConnection(a);
        served.Start();
        client.Start();
        using var m = new Membrane.Client(await client.BootstrapAsync());
        using Session s = await Session.GraftAsync(m);
        using var r = await s.Executor.EchoAsync("still here");
        Assert.Equal("still here", r.Results.Response.ToString());
    }

    [Fact]
    public async Task GarbageOnFd4AbortsOnlyThatGuestsConnection()
    {
        HostContext host = Context();
        GuestSession hostile = await StartAsync(host, [0, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8], "read");
        await hostile.Connection.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("bad message", hostile.Connection.CloseReason!.Reason);
        CellResult r = await hostile.Cell.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, r.ExitCode); // it read the Abort, then end of file
        await HostStillWorks(host);
    }

    [Fact]
    public async Task AMessageOverTheLimitAbortsNamingTheLimit()
    {
        HostContext host = Context();
        byte[] header = new byte[8];
        BitConverter.TryWriteBytes(header.AsSpan(4), 100u * 1024 * 1024 / 8); // one segment of 100 MiB
        GuestSession hostile = await StartAsync(host, header, "read");
        await hostile.Connection.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("message size", hostile.Connection.CloseReason!.Reason);
        await HostStillWorks(host);
    }

    [Fact]
    public async Task TenThousandCallsFromAGuestThatNeverReadsCostOnlyThatGuest()
    {
        HostContext host = Context();
        // Bootstrap, graft on its answer, then 10,000 echo calls on the graft's executor, all pipelined.
        var bytes = new List<byte>();
        bytes.AddRange(Frame(m => m.InitBootstrap().QuestionId = 0));
        bytes.AddRange(Frame(m =>
        {
            P.Call.Builder c = m.InitCall();
            c.QuestionId = 1;
            c.InterfaceId = Membrane.InterfaceId;
            c.MethodId = Membrane.Methods.Graft;
            c.InitTarget().InitPromisedAnswer().QuestionId = 0;
            c.InitParams().Content.InitStruct(0, 1);
        }));
        for (uint q = 2; q < 10_002; q++)
        {
            bytes.AddRange(Frame(m =>
            {
                P.Call.Builder c = m.InitCall();
                c.QuestionId = q;
                c.InterfaceId = Executor.InterfaceId;
                c.MethodId = Executor.Methods.Echo;
                P.PromisedAnswer.Builder pa = c.InitTarget().InitPromisedAnswer();
                pa.QuestionId = 1;
                P.PromisedAnswer.Op.Builder op = pa.InitTransform(1)[0];
                op.GetPointerField = 2; // executor
                c.InitParams().Content.InitStruct(0, 1).SetText(0, "unread answer");
            }));
        }
        GuestSession hostile = await StartAsync(host, [.. bytes], "never");
        // The host answers what it can; the answers wait for a reader that never comes. Others are unaffected.
        await Task.Delay(500);
        await HostStillWorks(host);
        hostile.Cell.Kill();
        await hostile.Cell.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        await hostile.Connection.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        RpcTableCounts left = hostile.Connection.Counts;
        Assert.Equal(new RpcTableCounts(0, 0, 0, 0, 0), left);
    }

    [Fact]
    public async Task AThousandHostileGuestsLeaveNoThreadsOrTablesBehind()
    {
        HostContext host = Context();
        byte[] garbage = [0, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8];
        // Warm up, then measure.
        for (int i = 0; i < 20; i++)
        {
            GuestSession g = await StartAsync(host, garbage, "read");
            await g.Cell.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int threadsBefore = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < 1000; i++)
        {
            GuestSession g = await StartAsync(host, garbage, "read");
            await g.Cell.Completion.WaitAsync(TimeSpan.FromSeconds(10));
            await g.Connection.Completion.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(new RpcTableCounts(0, 0, 0, 0, 0), g.Connection.Counts);
        }
        await Task.Delay(200);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int threadsAfter = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;
        long memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(threadsAfter <= threadsBefore + 8, $"threads {threadsBefore} -> {threadsAfter}");
        Assert.True(memoryAfter - memoryBefore < 64L * 1024 * 1024, $"managed memory {memoryBefore} -> {memoryAfter}");
        await HostStillWorks(host);
    }
}
