namespace Wetware.Cells.Tests;

/// <summary>Memory and module limits, and modules that ask for what a guest does not get.</summary>
public sealed class LimitTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private static byte[] Wat(string text) => Wasmtime.Module.ConvertText(text);

    [Fact]
    public async Task MemoryBeyondTheLimitIsEnomemInsideTheGuest()
    {
        GuestRun run = await GuestRun.RunAsync(fixture.Engine, "memhog", new CellOptions { MemoryLimitBytes = 32 << 20 });

        Assert.True(run.ExitCode == 0, run.Result.Trap + run.Stdout);
        Dictionary<string, string> v = run.Values();
        Assert.Equal("-1", v["grow"]);
        Assert.Equal("ENOMEM", v["malloc"]);
        int mib = int.Parse(v["allocated"].Split(' ')[0]);
        Assert.InRange(mib, 16, 31);
    }

    [Fact]
    public async Task TheDefaultLimitIs512MiB()
    {
        Assert.Equal(512L << 20, new CellOptions().MemoryLimitBytes);

        GuestRun run = await GuestRun.RunAsync(fixture.Engine, "memhog");

        Assert.Equal(0, run.ExitCode);
        int mib = int.Parse(run.Values()["allocated"].Split(' ')[0]);
        Assert.InRange(mib, 480, 511);
    }

    [Fact]
    public async Task AModuleAboveTheSizeLimitIsRefusedBeforeCompiling()
    {
        var huge = new byte[CellEngineOptions.DefaultMaxModuleBytes + 1];

        CellStartException e = await Assert.ThrowsAsync<CellStartException>(() => fixture.Engine.StartAsync(huge, new CellOptions()));

        Assert.Contains("above the limit", e.Message);
        Assert.Contains(fixture.Logger.Entries, l => l.Message.StartsWith("limit reached: module size", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BytesThatAreNotWasmAreRefused()
    {
        CellStartException e = await Assert.ThrowsAsync<CellStartException>(() => fixture.Engine.StartAsync("not wasm at all"u8.ToArray(), new CellOptions()));

        Assert.StartsWith("invalid module", e.Message);
    }

    [Theory]
    [InlineData("env", "foo")]
    [InlineData("wasi_snapshot_preview1", "not_a_wasi_function")]
    [InlineData("wasi_unstable", "fd_write")]
    public async Task AnyOtherImportIsUnknownImport(string module, string name)
    {
        byte[] wasm = Wat($"""(module (import "{module}" "{name}" (func)) (memory (export "memory") 1) (func (export "_start")))""");

        CellStartException e = await Assert.ThrowsAsync<CellStartException>(() => fixture.Engine.StartAsync(wasm, new CellOptions()));

        Assert.Equal($"unknown import: {module}.{name}", e.Message);
    }

    [Fact]
    public async Task AWasiImportWithTheWrongSignatureIsRefused()
    {
        byte[] wasm = Wat("""(module (import "wasi_snapshot_preview1" "fd_write" (func (param i64))) (memory (export "memory") 1) (func (export "_start")))""");

        await Assert.ThrowsAsync<CellStartException>(() => fixture.Engine.StartAsync(wasm, new CellOptions()));
    }

    [Fact]
    public async Task AModuleWithoutStartOrMemoryIsRefused()
    {
        await Assert.ThrowsAsync<CellStartException>(() => fixture.Engine.StartAsync(Wat("""(module (memory (export "memory") 1))"""), new CellOptions()));
        await Assert.ThrowsAsync<CellStartException>(() => fixture.Engine.StartAsync(Wat("""(module (memory 1) (func (export "_start")))"""), new CellOptions()));
    }

    [Fact]
    public async Task AnInitialMemoryAboveTheLimitIsRefused()
    {
        // 1000 pages: 62.5 MiB before the guest runs a single instruction.
        byte[] wasm = Wat("""(module (memory (export "memory") 1000) (func (export "_start")))""");

        CellStartException e = await Assert.ThrowsAsync<CellStartException>(() => fixture.Engine.StartAsync(wasm, new CellOptions { MemoryLimitBytes = 32 << 20 }));

        Assert.StartsWith("cannot instantiate", e.Message);
    }

    [Fact]
    public async Task AFailedStartAlsoFailsCompletion()
    {
        byte[] wasm = Wat("""(module (import "env" "foo" (func)) (memory (export "memory") 1) (func (export "_start")))""");

        await Assert.ThrowsAsync<CellStartException>(() => fixture.Engine.RunAsync(wasm, new CellOptions()));
    }

    [Fact]
    public async Task AMinimalWatGuestRuns()
    {
        byte[] wasm = Wat("""
            (module
              (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (memory (export "memory") 1)
              (func (export "_start") (call $exit (i32.const 9))))
            """);

        Assert.Equal(new CellResult(9, CellExitReason.Exited), await fixture.Engine.RunAsync(wasm, new CellOptions()));
    }
}
