using System.IO.Pipelines;
using System.Text;

namespace Wetware.Cells.Tests;

/// <summary>fds 0 to 2: blocking reads, poll with timeouts, back-pressure, a reader that goes away (cat.c).</summary>
public sealed class StreamTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private readonly CellEngine _engine = fixture.Engine;

    [Fact]
    public async Task StdinReachesStdout()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "cat", stdin: "line one\nline two\n");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("line one\nline two\n", run.Stdout);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(10)] // more iovecs than are read onto the stack
    public async Task WritesGatherAndReadsScatterOverEveryIovec(int count)
    {
        // fd_write of `count` iovecs of "ab", then fd_read into `count` iovecs of 3 bytes each, echoed whole.
        var writeTable = new List<byte>();
        var readTable = new List<byte>();
        for (int i = 0; i < count; i++)
        {
            writeTable.AddRange(BitConverter.GetBytes(1024 + (2 * i)));
            writeTable.AddRange(BitConverter.GetBytes(2));
            readTable.AddRange(BitConverter.GetBytes(4096 + (3 * i)));
            readTable.AddRange(BitConverter.GetBytes(3));
        }
        static string Escaped(IEnumerable<byte> bytes) => string.Concat(bytes.Select(b => $"\\{b:x2}"));
        byte[] wasm = Wasmtime.Module.ConvertText($$"""
            (module
              (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 0) "{{Escaped(writeTable)}}")
              (data (i32.const 1024) "{{string.Concat(Enumerable.Repeat("ab", count))}}")
              (data (i32.const 2048) "{{Escaped(readTable)}}")
              (func (export "_start")
                (drop (call $write (i32.const 1) (i32.const 0) (i32.const {{count}}) (i32.const 512)))
                (drop (call $read (i32.const 0) (i32.const 2048) (i32.const {{count}}) (i32.const 516)))
                (i32.store (i32.const 520) (i32.const 4096))
                (i32.store (i32.const 524) (i32.load (i32.const 516)))
                (drop (call $write (i32.const 1) (i32.const 520) (i32.const 1) (i32.const 512)))))
            """);
        string input = string.Concat(Enumerable.Range(0, 3 * count).Select(i => (char)('A' + (i % 26))));
        var stdin = new Pipe();
        await stdin.Writer.WriteAsync(Encoding.UTF8.GetBytes(input));
        stdin.Writer.Complete();
        var stdout = new MemoryStream();

        CellResult result = await _engine.RunAsync(wasm, new CellOptions { Stdin = stdin.Reader, Stdout = PipeWriter.Create(stdout) });

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Concat(Enumerable.Repeat("ab", count)) + input, Encoding.UTF8.GetString(stdout.ToArray()));
    }

    [Fact]
    public async Task EmptyStdinIsEndOfFile()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "cat");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public async Task ReadBlocksUntilDataArrivesAndEndsAtEndOfFile()
    {
        var stdin = new Pipe();
        var stdout = new Pipe();
        await using Cell cell = await _engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat"], Stdin = stdin.Reader, Stdout = stdout.Writer });

        await Task.Delay(50);
        Assert.False(cell.Completion.IsCompleted);
        await stdin.Writer.WriteAsync("first\n"u8.ToArray());
        Assert.Equal("first\n", await PipeText.ReadUntilAsync(stdout.Reader, "first\n"));
        await stdin.Writer.WriteAsync("second\n"u8.ToArray());
        Assert.Equal("second\n", await PipeText.ReadUntilAsync(stdout.Reader, "second\n"));
        Assert.False(cell.Completion.IsCompleted);

        stdin.Writer.Complete();
        CellResult result = await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, result.ExitCode);
    }

    [Fact]
    public async Task PollOnStdinTimesOutWhenNothingComes()
    {
        var stdin = new Pipe();
        var stderr = new Pipe();
        await using Cell cell = await _engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat", "poll", "30"], Stdin = stdin.Reader, Stderr = stderr.Writer });

        Assert.Equal("timeout\n", await PipeText.ReadUntilAsync(stderr.Reader, "\n"));
        // The read the poll left pending is picked up by the next read: nothing is lost.
        await stdin.Writer.WriteAsync("after the timeout"u8.ToArray());
        stdin.Writer.Complete();
        Assert.Equal(0, (await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
    }

    [Fact]
    public async Task PollOnStdinIsReadyWhenDataIsThere()
    {
        GuestRun run = await GuestRun.RunAsync(_engine, "cat", new CellOptions { Args = ["cat", "poll", "60000"] }, stdin: "data");

        Assert.Equal("ready\n", run.Stderr);
        Assert.Equal("data", run.Stdout);
    }

    [Fact]
    public async Task PollOnStdinWakesWhenDataArrives()
    {
        var stdin = new Pipe();
        var stdout = new Pipe();
        var stderr = new MemoryStream();
        await using Cell cell = await _engine.StartAsync(Guests.Bytes("cat"), new CellOptions
        {
            Args = ["cat", "poll", "60000"],
            Stdin = stdin.Reader,
            Stdout = stdout.Writer,
            Stderr = PipeWriter.Create(stderr),
        });

        await Task.Delay(50);
        await stdin.Writer.WriteAsync("wake up"u8.ToArray());
        Assert.Equal("wake up", await PipeText.ReadUntilAsync(stdout.Reader, "wake up"));
        stdin.Writer.Complete();
        Assert.Equal(0, (await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
        Assert.Equal("ready\n", Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [Fact]
    public async Task LargeOutputStreamsThroughABoundedPipeWithBackPressure()
    {
        byte[] data = PipeText.RandomBytes(8 << 20, seed: 1);
        var stdin = new Pipe();
        // A small pipe: the guest must wait for the reader again and again, never lose a byte.
        var stdout = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));
        await using Cell cell = await _engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat"], Stdin = stdin.Reader, Stdout = stdout.Writer });

        Task writing = Task.Run(async () =>
        {
            await stdin.Writer.WriteAsync(data);
            stdin.Writer.Complete();
        });
        Task<byte[]> reading = Task.Run(async () =>
        {
            var all = new MemoryStream();
            while (all.Length < data.Length)
            {
                ReadResult r = await stdout.Reader.ReadAsync();
                foreach (ReadOnlyMemory<byte> s in r.Buffer)
                {
                    all.Write(s.Span);
                }
                stdout.Reader.AdvanceTo(r.Buffer.End);
            }
            return all.ToArray();
        });

        Assert.Equal(0, (await cell.Completion.WaitAsync(TimeSpan.FromSeconds(60))).ExitCode);
        await writing;
        Assert.Equal(data, await reading.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task WritingToAStdoutNobodyReadsIsEpipe()
    {
        var stdout = new Pipe();
        stdout.Reader.Complete();
        var stdin = new Pipe();
        await stdin.Writer.WriteAsync("lost"u8.ToArray());
        stdin.Writer.Complete();
        var stderr = new MemoryStream();

        CellResult result = await _engine.RunAsync(Guests.Bytes("cat"), new CellOptions
        {
            Args = ["cat"],
            Stdin = stdin.Reader,
            Stdout = stdout.Writer,
            Stderr = PipeWriter.Create(stderr),
        });

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("write: Broken pipe\n", Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [Fact]
    public async Task AGuestBlockedOnStdinDoesNotHoldUpAnother()
    {
        var stdin = new Pipe();
        await using Cell blocked = await _engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Name = "blocked", Args = ["cat"], Stdin = stdin.Reader });

        GuestRun other = await GuestRun.RunAsync(_engine, "hello");

        Assert.Equal(0, other.ExitCode);
        Assert.False(blocked.Completion.IsCompleted);
        stdin.Writer.Complete();
        Assert.Equal(0, (await blocked.Completion.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
    }

    [Fact]
    public async Task ManyGuestsBlockedOnStdinAtOnce()
    {
        const int count = 64;
        var stdins = new Pipe[count];
        var cells = new Cell[count];
        for (int i = 0; i < count; i++)
        {
            stdins[i] = new Pipe();
            cells[i] = await _engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Name = $"many-{i}", Args = ["cat"], Stdin = stdins[i].Reader });
        }

        Assert.Equal(0, (await GuestRun.RunAsync(_engine, "hello")).ExitCode);
        Assert.All(cells, c => Assert.False(c.Completion.IsCompleted));
        foreach (Pipe p in stdins)
        {
            p.Writer.Complete();
        }
        CellResult[] results = await Task.WhenAll(cells.Select(c => c.Completion)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(results, r => Assert.Equal(0, r.ExitCode));
    }

    [Fact]
    public async Task StdinIsHandedBackAtExitSoTheNextGuestReadsOn()
    {
        var stdin = new Pipe();
        var stderr = new Pipe();
        Cell first = await _engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat", "poll", "60000"], Stdin = stdin.Reader, Stderr = stderr.Writer });
        // The first guest waits in poll with a read pending on stdin when it is killed.
        await Task.Delay(50);
        first.Kill();
        Assert.Equal(137, (await first.Completion.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);

        await stdin.Writer.WriteAsync("for the second guest"u8.ToArray());
        stdin.Writer.Complete();
        GuestRun second = await GuestRun.RunAsync(_engine, "cat", new CellOptions { Stdin = stdin.Reader });

        Assert.Equal(0, second.ExitCode);
        Assert.Equal("for the second guest", second.Stdout);
    }
}
