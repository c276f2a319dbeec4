using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Threading.Channels;
using Wetware.Capnp;
using P = Wetware.GuestSdk.Tests.Protocol;

namespace Wetware.GuestSdk.Tests;

/// <summary>
/// What a guest does with a host that sends nonsense on fd 4: it aborts the connection with the reason
/// (rpc.capnp, Abort), its waits fail with that reason, and it exits: never a trap, never a hang. Here the
/// test is the host, byte by byte: the guest ("wait") sends Bootstrap and a pipelined graft, then waits.
/// </summary>
public sealed class HostileHostTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private sealed class RawHost : IAsyncDisposable
    {
        private readonly Channel<MessageReader> _messages = Channel.CreateUnbounded<MessageReader>();
        private readonly Task _reading;

        public RawHost(GuestHarness guest)
        {
            Guest = guest;
            _reading = Task.Run(async () =>
            {
                try
                {
                    while (await Framing.ReadMessageAsync(guest.Cell.Rpc.Input) is { } m)
                    {
                        _messages.Writer.TryWrite(m);
                    }
                }
                finally
                {
                    _messages.Writer.TryComplete();
                }
            });
        }

        public GuestHarness Guest { get; }

        public PipeWriter Output => Guest.Cell.Rpc.Output;

        public async Task<P.Message.Reader> NextAsync()
        {
            MessageReader m = await _messages.Reader.ReadAsync().AsTask().WaitAsync(GuestHarness.Timeout);
            return m.GetRoot<P.Message.Reader>();
        }

        /// <summary>Every message the guest sends until it closes fd 4.</summary>
        public async Task<List<P.Message.Reader>> RestAsync()
        {
            await _reading.WaitAsync(GuestHarness.Timeout);
            var rest = new List<P.Message.Reader>();
            while (_messages.Reader.TryRead(out MessageReader? m))
            {
                rest.Add(m.GetRoot<P.Message.Reader>());
            }
            return rest;
        }

        public async ValueTask DisposeAsync() => await Guest.DisposeAsync();
    }

    private async Task<RawHost> StartAsync()
    {
        var host = new RawHost(await GuestHarness.StartAsync(fixture, "sdktest", ["wait"], connect: false));
        P.Message.Reader bootstrap = await host.NextAsync();
        Assert.Equal(P.Message.Which.Bootstrap, bootstrap.Which);
        P.Message.Reader graft = await host.NextAsync();
        Assert.Equal(P.Message.Which.Call, graft.Which);
        Assert.Equal(P.MessageTarget.Which.PromisedAnswer, graft.Call.Target.Which); // pipelined on the bootstrap
        return host;
    }

    private static byte[] Frame(MessageBuilder m) => Framing.ToArray(m);

    public static TheoryData<string, string> Garbage => new()
    {
        { "segments", "message has more segments than the limit" },
        { "size", "message is larger than the limit" },
        { "pointer", "pointer points outside its segment" },
        { "return", "Return for question 77, which is not outstanding" },
        { "finish", "Finish for question 5, which is not outstanding" },
        { "random", "bad message from the host" },
    };

    private static byte[] Bytes(string kind)
    {
        switch (kind)
        {
            case "segments":
                return [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
            case "size":
                {
                    var b = new byte[8];
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 16u << 20); // 128 MiB in one segment
                    return b;
                }
            case "pointer":
                {
                    // One segment of two words: a root struct pointer 100 words past the end.
                    var b = new byte[8 + 16];
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 2);
                    BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), (100u << 2) | (1ul << 32));
                    return b;
                }
            case "return":
                {
                    using var m = new MessageBuilder();
                    P.Return.Builder r = m.InitRoot<P.Message.Builder>().InitReturn();
                    r.AnswerId = 77;
                    r.InitResults();
                    return Frame(m);
                }
            case "finish":
                {
                    using var m = new MessageBuilder();
                    P.Finish.Builder f = m.InitRoot<P.Message.Builder>().InitFinish();
                    f.QuestionId = 5;
                    return Frame(m);
                }
            default:
                {
                    // A valid-looking frame of one 64-word segment full of random words.
                    var b = new byte[8 + 512];
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 64);
                    new Random(6).NextBytes(b.AsSpan(8));
                    BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), 0x0000_0001_0000_0000ul | (70u << 2)); // root: out of bounds
                    return b;
                }
        }
    }

    [Theory]
    [MemberData(nameof(Garbage))]
    public async Task GarbageMakesTheGuestAbortAndExitWithTheReason(string kind, string reason)
    {
        await using RawHost host = await StartAsync();
        await host.Output.WriteAsync(Bytes(kind));

        GuestResult r = await host.Guest.CompletionAsync();
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains(reason, r.Values()["error"]);
        Assert.StartsWith("protocol violation by the host: ", r.Values()["reason"]);
        // The guest said why before it hung up.
        List<P.Message.Reader> rest = await host.RestAsync();
        P.Message.Reader abort = Assert.Single(rest, m => m.Which == P.Message.Which.Abort);
        Assert.Contains(reason, abort.Abort.Reason.ToString());
    }

    [Fact]
    public async Task AMessageCutShortByEndOfFileFailsTheGuestsCalls()
    {
        await using RawHost host = await StartAsync();
        var b = new byte[8 + 24];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 10); // says 10 words, brings 3
        await host.Output.WriteAsync(b);
        await host.Output.CompleteAsync();

        GuestResult r = await host.Guest.CompletionAsync();
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Equal("the host closed the connection", r.Values()["reason"]);
    }

    [Fact]
    public async Task MutatedMessagesNeverTrapOrHangTheGuest()
    {
        // A valid Return of the bootstrap (a capability) with random bytes changed; then end of file.
        using var m = new MessageBuilder();
        P.Return.Builder ret = m.InitRoot<P.Message.Builder>().InitReturn();
        ret.AnswerId = 0;
        P.Payload.Builder p = ret.InitResults();
        p.Content.SetCapability(0);
        var table = p.InitCapTable(1);
        P.CapDescriptor.Builder d = table[0];
        d.SenderHosted = 3;
        byte[] valid = Frame(m);
        var random = new Random(66);
        for (int i = 0; i < 24; i++)
        {
            await using RawHost host = await StartAsync();
            byte[] bytes = (byte[])valid.Clone();
            for (int e = random.Next(1, 4); e > 0; e--)
            {
                bytes[8 + random.Next(bytes.Length - 8)] = (byte)random.Next(256);
            }
            await host.Output.WriteAsync(bytes);
            await host.Output.CompleteAsync();
            GuestResult r = await host.Guest.CompletionAsync();
            Assert.True(r.ExitCode == 3, $"mutation {i}: {r}");
        }
    }
}

/// <summary>The RPC engine itself, natively under ASan/UBSan, fed crafted and mutated host messages (rpcfuzz.c).</summary>
public sealed class RpcEngineFuzzTests
{
    [Fact]
    public void HostileMessageStreamsNeverMakeTheEngineTouchMemoryItShouldNot()
    {
        (int code, string output) = Native.Run(Native.RpcFuzz, ["1500", "5"], []);

        Assert.True(code == 0, output);
        Assert.StartsWith("streams=1500", output);
    }
}
