using System.IO.Pipelines;
using System.Text;

namespace Wetware.Cells.Tests;

/// <summary>fd 4, the RPC data stream, as raw bytes: the host end is <see cref="Cell.Rpc"/> (echo4.c).</summary>
public sealed class RpcStreamTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private Task<Cell> StartEcho(int tickMs, PipeWriter? stdout = null) =>
        fixture.Engine.StartAsync(Guests.Bytes("echo4"), new CellOptions { Args = ["echo4", tickMs.ToString()], Stdout = stdout });

    [Fact]
    public async Task BytesWrittenToTheGuestComeBack()
    {
        var stdout = new MemoryStream();
        await using Cell cell = await StartEcho(1000, PipeWriter.Create(stdout));

        await cell.Rpc.Output.WriteAsync("ping"u8.ToArray());
        Assert.Equal("ping", await PipeText.ReadUntilAsync(cell.Rpc.Input, "ping"));
        await cell.Rpc.Output.WriteAsync("pong"u8.ToArray());
        Assert.Equal("pong", await PipeText.ReadUntilAsync(cell.Rpc.Input, "pong"));

        cell.Rpc.Output.Complete();
        CellResult result = await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("echoed 8 bytes", Encoding.UTF8.GetString(stdout.ToArray()));
    }

    [Fact]
    public async Task TheHostReadsEndOfFileWhenTheGuestExits()
    {
        await using Cell cell = await StartEcho(1000);

        cell.Rpc.Output.Complete();
        Assert.Empty(await PipeText.ReadToEndAsync(cell.Rpc.Input).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, (await cell.Completion).ExitCode);
    }

    [Fact]
    public async Task MegabytesEchoBothWaysThroughBoundedBuffers()
    {
        // More than both directions' buffers together: the guest's writes go partial, it polls for FD_WRITE,
        // and the host must read while it writes.
        byte[] data = PipeText.RandomBytes(8 << 20, seed: 4);
        var stdout = new MemoryStream();
        await using Cell cell = await StartEcho(1000, PipeWriter.Create(stdout));

        Task<byte[]> reading = PipeText.ReadToEndAsync(cell.Rpc.Input);
        for (int offset = 0; offset < data.Length; offset += 100_000)
        {
            await cell.Rpc.Output.WriteAsync(data.AsMemory(offset, Math.Min(100_000, data.Length - offset)));
        }
        cell.Rpc.Output.Complete();

        Assert.Equal(data, await reading.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, (await cell.Completion).ExitCode);
        Assert.StartsWith($"echoed {data.Length} bytes", Encoding.UTF8.GetString(stdout.ToArray()));
    }

    [Fact]
    public async Task PollWakesOnClockSubscriptionsWhileFd4IsQuiet()
    {
        var stdout = new MemoryStream();
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        await using Cell cell = await StartEcho(10, PipeWriter.Create(stdout));

        // At least 200 ms of silence with a 10 ms tick: the guest's poll_oneoff returns clock events meanwhile.
        await Task.Delay(200);
        cell.Rpc.Output.Complete();
        Assert.Equal(0, (await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
        double elapsedMs = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;

        string output = Encoding.UTF8.GetString(stdout.ToArray());
        int ticks = int.Parse(output.Split(", ")[1].Split(' ')[0]);
        // Never more than one per 10 ms of wall time: the wait does not return early or spin.
        Assert.InRange(ticks, 2, (int)(elapsedMs / 10) + 1);
    }

    [Fact]
    public async Task AGuestThatNeverReadsFd4DoesNotMakeTheHostBufferWithoutBound()
    {
        await using Cell cell = await fixture.Engine.StartAsync(Guests.Bytes("cat"), new CellOptions { Args = ["cat"], Stdin = new Pipe().Reader });

        // The host's writes wait once about a megabyte is queued for the guest.
        ValueTask<FlushResult> flush = default;
        int written = 0;
        while (written < 16 << 20)
        {
            flush = cell.Rpc.Output.WriteAsync(new byte[64 * 1024]);
            written += 64 * 1024;
            if (!flush.IsCompleted)
            {
                break;
            }
        }
        Assert.False(flush.IsCompleted);
        Assert.InRange(written, 1 << 20, 2 << 20);

        cell.Kill();
        Assert.Equal(137, (await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
        // The guest's end is closed once it is gone: the waiting write ends instead of hanging.
        Assert.True((await flush.AsTask().WaitAsync(TimeSpan.FromSeconds(30))).IsCompleted);
    }

    [Fact]
    public async Task WhatAKilledGuestWroteToFd4IsStillReadThenEndOfFile()
    {
        await using Cell cell = await StartEcho(1000);

        // The host writes 4 MiB and reads nothing: the guest's echo fills its outgoing buffer and waits.
        Task writing = Task.Run(async () =>
        {
            for (int i = 0; i < 64; i++)
            {
                FlushResult r = await cell.Rpc.Output.WriteAsync(new byte[64 * 1024]);
                if (r.IsCompleted)
                {
                    break;
                }
            }
        });
        await Task.Delay(200);
        Assert.False(cell.Completion.IsCompleted);
        cell.Kill();
        Assert.Equal(137, (await cell.Completion.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);

        byte[] echoed = await PipeText.ReadToEndAsync(cell.Rpc.Input).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.InRange(echoed.Length, 1 << 20, 4 << 20);
        Assert.Equal(-1, echoed.AsSpan().IndexOfAnyExcept((byte)0));
        await writing.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
