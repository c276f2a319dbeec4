using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Wetware.Capnp.Rpc;
using Wetware.Cells;
using Wetware.Schema;

namespace Wetware.Host.Tests;

/// <summary>The C test guests of tests/guests, built once per run.</summary>
public sealed class TestGuests
{
    public TestGuests()
    {
        string root = Repository.Root;
        Directory = Path.Combine(AppContext.BaseDirectory, "guests");
        var psi = new ProcessStartInfo("bash", [Path.Combine(root, "tests/guests/build.sh"), Directory]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using System.Diagnostics.Process p = System.Diagnostics.Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"building the test guests failed (scripts/install-deps.sh installs clang-14): {err.Result}");
        }
    }

    public string Directory { get; }

    public byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(Directory, name + ".wasm"));
}

internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input => input;

    public PipeWriter Output => output;

    public static (IDuplexPipe A, IDuplexPipe B) CreatePair()
    {
        var ab = new Pipe();
        var ba = new Pipe();
        return (new DuplexPipe(ba.Reader, ab.Writer), new DuplexPipe(ab.Reader, ba.Writer));
    }
}

/// <summary>A host serving its boot Membrane to a C# "guest" over an in-memory connection.</summary>
internal sealed class HostHarness : IAsyncDisposable
{
    public readonly EpochSource Epochs = new();
    public readonly CellEngine Engine;
    public readonly RpcConnection HostSide;
    public readonly RpcConnection GuestSide;

    public HostHarness(INodeIdentity? identity = null, GraftPolicy? policy = null, TimeSpan? signerTimeout = null, P2p.P2pNode? node = null)
    {
        Engine = new CellEngine(new CellEngineOptions { Cache = new ModuleCache(Path.Combine(AppContext.BaseDirectory, "module-cache")) });
        Context = new HostContext(identity ?? NoIdentity.Instance, Epochs, Engine, NullLogger.Instance) { SignerTimeout = signerTimeout ?? TimeSpan.FromSeconds(10), Node = node };
        var (a, b) = DuplexPipe.CreatePair();
        using Capability membrane = Capability.FromServer(new MembraneServer(Context, policy ?? GraftPolicy.Boot, null));
        HostSide = new RpcConnection(b, membrane);
        GuestSide = new RpcConnection(a);
        HostSide.Start();
        GuestSide.Start();
    }

    public HostContext Context { get; }

    public async Task<Membrane.Client> MembraneAsync() => new(await GuestSide.BootstrapAsync().WaitAsync(TimeSpan.FromSeconds(10)));

    public async ValueTask DisposeAsync()
    {
        await GuestSide.DisposeAsync();
        await HostSide.DisposeAsync();
        Engine.Dispose();
    }
}

/// <summary>The four capabilities of a graft.</summary>
internal sealed class Session : IDisposable
{
    public Session(Response<Membrane.GraftResults.Reader> r)
    {
        Identity = r.GetClient<Schema.Identity.Client>(r.Results.Identity)!;
        Host = r.GetClient<Schema.Host.Client>(r.Results.Host)!;
        Executor = r.GetClient<Executor.Client>(r.Results.Executor)!;
        Ipfs = r.GetClient<Client.Client_>(r.Results.Ipfs)!;
        r.Dispose();
    }

    public Schema.Identity.Client Identity { get; }

    public Schema.Host.Client Host { get; }

    public Executor.Client Executor { get; }

    public Client.Client_ Ipfs { get; }

    public static async Task<Session> GraftAsync(Membrane.Client membrane, Signer.Client? signer = null) =>
        new(await membrane.GraftAsync(signer).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));

    public void Dispose()
    {
        Identity.Dispose();
        Host.Dispose();
        Executor.Dispose();
        Ipfs.Dispose();
    }
}

internal static class Calls
{
    /// <summary>runBytes (or spawn, with a bootstrap) of a module with no args and no env.</summary>
    public static RpcCall<Executor.RunBytesResults.Reader, Executor.RunBytesResults.Pipeline> RunBytesAsync(this Executor.Client executor, byte[] wasm)
    {
        var req = executor.NewRunBytes();
        Executor.RunBytesParams.Builder p = req.Params;
        p.SetWasm(wasm);
        return req.Send();
    }

    public static RpcCall<Executor.SpawnResults.Reader, Executor.SpawnResults.Pipeline> SpawnAsync(this Executor.Client executor, byte[] wasm, CapabilityClient? bootstrap)
    {
        var req = executor.NewSpawn();
        Executor.SpawnParams.Builder p = req.Params;
        p.SetWasm(wasm);
        p.Bootstrap = bootstrap is null ? null : req.AddCapability(bootstrap);
        return req.Send();
    }
}
