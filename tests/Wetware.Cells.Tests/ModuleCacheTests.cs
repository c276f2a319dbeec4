using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace Wetware.Cells.Tests;

/// <summary>Compiled modules by content hash: reused across engines, rebuilt when corrupt, safe to share.</summary>
public sealed class ModuleCacheTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ww-cache-" + Guid.NewGuid().ToString("N"));
    private readonly byte[] _hello = Guests.Bytes("hello");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private CellEngine NewEngine(ILogger? logger = null) => new(new CellEngineOptions { Cache = new ModuleCache(_directory) }, logger);

    private string EntryPath(CellEngine engine) =>
        new ModuleCache(_directory).EntryPath(engine.EngineKey, Convert.ToHexStringLower(SHA256.HashData(_hello)));

    [Fact]
    public async Task ASecondEngineLoadsTheCompiledModuleInsteadOfCompiling()
    {
        using (CellEngine first = NewEngine())
        {
            Assert.Equal(0, (await GuestRun.RunAsync(first, "hello")).ExitCode);
            Assert.Equal(1, first.Compilations);
            Assert.True(File.Exists(EntryPath(first)));
        }
        using CellEngine second = NewEngine();

        Assert.Equal(0, (await GuestRun.RunAsync(second, "hello")).ExitCode);
        Assert.Equal(0, second.Compilations);
        Assert.Equal(1, second.DiskCacheHits);
    }

    [Fact]
    public async Task OneEngineCompilesAModuleOnce()
    {
        using CellEngine engine = NewEngine();

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(0, (await GuestRun.RunAsync(engine, "hello")).ExitCode);
        }

        Assert.Equal(1, engine.Compilations);
    }

    [Fact]
    public void TheKeyNamesTheWasmtimeVersionAndTheDebugSetting()
    {
        using CellEngine plain = NewEngine();
        using var debug = new CellEngine(new CellEngineOptions { WasmDebug = true, Cache = new ModuleCache(_directory) });

        Assert.Equal("50.0.1", CellEngine.WasmtimeVersion);
        Assert.StartsWith("wasmtime-50.0.1-", plain.EngineKey);
        Assert.NotEqual(plain.EngineKey, debug.EngineKey);
        Assert.EndsWith("-dwarf", debug.EngineKey);
        Assert.StartsWith(Path.Combine(_directory, "modules", plain.EngineKey), EntryPath(plain));
    }

    [Theory]
    [InlineData("flipped byte")]
    [InlineData("truncated")]
    [InlineData("empty")]
    [InlineData("valid checksum, not a module")]
    public async Task ACorruptEntryIsRecompiledAndReplacedNeverLoaded(string corruption)
    {
        string path;
        using (CellEngine first = NewEngine())
        {
            await GuestRun.RunAsync(first, "hello");
            path = EntryPath(first);
        }
        byte[] bytes = File.ReadAllBytes(path);
        switch (corruption)
        {
            case "flipped byte":
                bytes[bytes.Length / 2] ^= 0x40;
                break;
            case "truncated":
                bytes = bytes[..(bytes.Length / 2)];
                break;
            case "empty":
                bytes = [];
                break;
            default:
                // A well-formed entry whose payload Wasmtime refuses (as from another Wasmtime build).
                byte[] payload = "this is not a serialized module"u8.ToArray();
                bytes = [.. bytes[..8], .. SHA256.HashData(payload), .. payload];
                break;
        }
        File.WriteAllBytes(path, bytes);
        var logger = new ListLogger();

        using (CellEngine second = NewEngine(logger))
        {
            GuestRun run = await GuestRun.RunAsync(second, "hello");
            Assert.Equal(0, run.ExitCode);
            Assert.StartsWith("argc=1", run.Stdout);
            Assert.Equal(1, second.Compilations);
            Assert.Equal(0, second.DiskCacheHits);
        }
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("module cache entry", StringComparison.Ordinal));
        using CellEngine third = NewEngine();
        await GuestRun.RunAsync(third, "hello");
        Assert.Equal(1, third.DiskCacheHits);
    }

    [Fact]
    public async Task ConcurrentEnginesFillTheSameEntrySafely()
    {
        var engines = Enumerable.Range(0, 6).Select(_ => NewEngine()).ToArray();
        try
        {
            GuestRun[] runs = await Task.WhenAll(engines.Select(e => Task.Run(() => GuestRun.RunAsync(e, "hello"))));

            Assert.All(runs, r => Assert.Equal(0, r.ExitCode));
            string dir = Path.GetDirectoryName(EntryPath(engines[0]))!;
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally
        {
            foreach (CellEngine e in engines)
            {
                e.Dispose();
            }
        }
        using CellEngine after = NewEngine();
        await GuestRun.RunAsync(after, "hello");
        Assert.Equal(1, after.DiskCacheHits);
    }

    [Fact]
    public async Task WithoutACacheNothingIsWritten()
    {
        using var engine = new CellEngine(new CellEngineOptions { Cache = null });

        Assert.Equal(0, (await GuestRun.RunAsync(engine, "hello")).ExitCode);
        Assert.False(Directory.Exists(_directory));
    }

    [Fact]
    public async Task ModulesThatDifferOnlyOutsideTheHashedSamplesAreNotConfused()
    {
        byte[] seven = ExitWith(7);
        byte[] nine = ExitWith(9);
        int at = seven.AsSpan().CommonPrefixLength(nine);
        Assert.Equal(seven.Length, nine.Length);
        Assert.True(at >= 64 && at < seven.Length - 64 && Math.Abs(at - (seven.Length / 2)) > 64, "the difference must lie outside the samples");
        using CellEngine engine = NewEngine();

        Assert.Equal(7, (await engine.RunAsync(seven, new CellOptions())).ExitCode);
        Assert.Equal(9, (await engine.RunAsync(nine, new CellOptions())).ExitCode);
        Assert.Equal(7, (await engine.RunAsync(seven.ToArray(), new CellOptions())).ExitCode);
        Assert.Equal(2, engine.Compilations);
    }

    /// <summary>A module that exits with <paramref name="code"/>, read from byte 300 of a 1001-byte data segment.</summary>
    private static byte[] ExitWith(byte code) => Wasmtime.Module.ConvertText($$"""
        (module
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "{{new string('x', 300)}}\{{code:x2}}{{new string('y', 700)}}")
          (func (export "_start") (call $exit (i32.load8_u (i32.const 300)))))
        """);

    [Fact]
    public void TheDefaultDirectoryFollowsXdgCacheHome()
    {
        string? saved = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/somewhere/cache");
            Assert.Equal("/somewhere/cache/ww", ModuleCache.DefaultDirectory);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", null);
            Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "ww"), ModuleCache.DefaultDirectory);
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved);
        }
    }
}
