using System.Buffers;
using System.IO.Pipelines;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Wetware.Capnp.Tests.Infrastructure;

namespace Wetware.Capnp.Tests.Packing;

public class PackedEncodingTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    [Fact]
    public void SpecExampleOfATaggedWordPacksToTagAndNonZeroBytes()
    {
        // encoding spec, "Packing": the worked example.
        byte[] unpacked = Hex("08 00 00 00 03 00 02 00 19 00 00 00 aa 01 00 00");
        byte[] packed = Hex("51 08 03 02 31 19 aa 01");
        Assert.Equal(packed, PackedEncoder.Encode(unpacked));
        Assert.Equal(unpacked, PackedDecoder.DecodeAll(packed));
    }

    [Fact]
    public void ZeroRunOfFourWordsIsOneTagAndACountOfThree()
    {
        Assert.Equal(Hex("00 03"), PackedEncoder.Encode(new byte[32]));
        Assert.Equal(new byte[32], PackedDecoder.DecodeAll(Hex("00 03")));
    }

    [Fact]
    public void ZeroRunLongerThan256WordsIsSplit()
    {
        byte[] packed = PackedEncoder.Encode(new byte[300 * 8]);
        Assert.Equal(Hex("00 FF 00 2B"), packed);
        Assert.Equal(new byte[300 * 8], PackedDecoder.DecodeAll(packed));
    }

    [Fact]
    public void AllOnesWordStartsALiteralRunOfWordsWithAtMostOneZeroByte()
    {
        byte[] unpacked = Hex("FFFFFFFFFFFFFFFF 0102030405060700 0102030405060708 0100000000000000");
        // 0xFF tag, 8 bytes, count 2 (the next two words have at most one zero), then a tagged word.
        byte[] packed = Hex("FF FFFFFFFFFFFFFFFF 02 0102030405060700 0102030405060708 01 01");
        Assert.Equal(packed, PackedEncoder.Encode(unpacked));
        Assert.Equal(unpacked, PackedDecoder.DecodeAll(packed));
    }

    [Fact]
    public void TruncatedInputIsAFormatError()
    {
        Assert.Throws<CapnpFormatException>(() => PackedDecoder.DecodeAll(Hex("51 08 03")));
        Assert.Throws<CapnpFormatException>(() => PackedDecoder.DecodeAll(Hex("00")));
        Assert.Throws<CapnpFormatException>(() => PackedDecoder.DecodeAll(Hex("FF 0102030405060708 02 01")));
    }

    [Fact]
    public void InputThatIsNotWholeWordsIsRefused()
    {
        Assert.Throws<ArgumentException>(() => PackedEncoder.Encode(new byte[7]));
    }

    [Fact]
    public void TagMarksExactlyTheNonZeroBytes()
    {
        var rng = new Random(1);
        for (int i = 0; i < 10_000; i++)
        {
            ulong w = 0;
            for (int b = 0; b < 8; b++)
            {
                if (rng.Next(2) == 1)
                {
                    w |= (ulong)rng.Next(1, 256) << (8 * b);
                }
            }
            int expected = 0;
            for (int b = 0; b < 8; b++)
            {
                expected |= ((w >> (8 * b)) & 0xFF) != 0 ? 1 << b : 0;
            }
            Assert.Equal(expected, PackedEncoder.Tag(w));
        }
    }

    private static Gen<byte[]> Words =>
        from n in Gen.Choose(0, 600)
        from bytes in Gen.ArrayOf(Gen.Frequency((6, Gen.Constant((byte)0)), (3, Gen.Constant((byte)0xFF)), (4, Gen.Choose(1, 255).Select(x => (byte)x))), n * 8)
        select bytes;

    [Property(MaxTest = 200)]
    public Property PackThenUnpackGivesTheWordsBack() =>
        Prop.ForAll(Words.ToArbitrary(), w => PackedDecoder.DecodeAll(PackedEncoder.Encode(w)).AsSpan().SequenceEqual(w));

    [Property(MaxTest = 200)]
    public Property DecodingInRandomChunksOfInputAndOutputGivesTheSameBytes() =>
        Prop.ForAll(Words.ToArbitrary(), Gen.Choose(0, int.MaxValue).ToArbitrary(), (w, seed) =>
        {
            byte[] packed = PackedEncoder.Encode(w);
            var rng = new Random(seed);
            var decoder = new PackedDecoder();
            var output = new byte[w.Length];
            int inAt = 0, outAt = 0;
            int guard = 0;
            while (inAt < packed.Length || outAt < output.Length)
            {
                int inN = Math.Min(packed.Length - inAt, rng.Next(0, 12));
                int outN = Math.Min(output.Length - outAt, rng.Next(0, 20));
                decoder.Decode(packed.AsSpan(inAt, inN), output.AsSpan(outAt, outN), out int c, out int wr);
                inAt += c;
                outAt += wr;
                if (++guard > 1_000_000)
                {
                    return false;
                }
            }
            return decoder.IsAtWordBoundary && output.AsSpan().SequenceEqual(w);
        });

    [Fact]
    public void OurPackedOutputIsByteIdenticalToTheToolsForRealMessages()
    {
        foreach (string schema in new[] { "/usr/include/capnp/schema.capnp", "/usr/include/capnp/rpc.capnp" })
        {
            byte[] binary = CapnpTool.Run([], "compile", "-o-", schema);
            byte[] toolPacked = CapnpTool.Run(binary, "convert", "binary:packed");
            using MessageReader m = Framing.Read(binary);
            using var b = new MessageBuilder();
            b.SetRoot(m.GetRoot());
            Assert.Equal(Convert.ToHexString(toolPacked), Convert.ToHexString(PackedFraming.ToArray(b)));

            using MessageReader fromTool = PackedFraming.Read(toolPacked);
            Assert.Equal(Dump.Of(m), Dump.Of(fromTool));
        }
    }

    [Fact]
    public void ToolDecodesOurPackedMultiSegmentMessages()
    {
        byte[] binary = CapnpTool.Run([], "compile", "-o-", "/usr/include/capnp/rpc.capnp");
        using MessageReader m = Framing.Read(binary);
        using var b = new MessageBuilder(firstSegmentWords: 5);
        b.SetRoot(m.GetRoot());
        Assert.True(b.SegmentCount > 1);
        const string schema = "/usr/include/capnp/schema.capnp";
        Assert.Equal(
            CapnpTool.ToText("binary", schema, "CodeGeneratorRequest", binary),
            CapnpTool.ToText("packed", schema, "CodeGeneratorRequest", PackedFraming.ToArray(b)));
    }

    [Fact]
    public async Task PackedMessagesStreamThroughAPipeInTinyPieces()
    {
        var pipe = new Pipe();
        var expected = new List<string>();
        var writes = new List<byte>();
        for (int i = 0; i < 30; i++)
        {
            using MessageBuilder b = RandomMessages.Build(i, i % 2 == 0 ? 2 : 1024);
            expected.Add(Dump.Of(b.AsReader()));
            writes.AddRange(PackedFraming.ToArray(b));
        }
        Task writer = Task.Run(async () =>
        {
            var rng = new Random(3);
            byte[] all = writes.ToArray();
            for (int at = 0; at < all.Length;)
            {
                int n = Math.Min(all.Length - at, rng.Next(1, 9));
                await pipe.Writer.WriteAsync(all.AsMemory(at, n));
                at += n;
            }
            await pipe.Writer.CompleteAsync();
        });
        var reader = new PackedMessageReader(pipe.Reader);
        foreach (string e in expected)
        {
            using MessageReader? m = await reader.ReadMessageAsync();
            Assert.NotNull(m);
            Assert.Equal(e, Dump.Of(m));
        }
        Assert.Null(await reader.ReadMessageAsync());
        await writer;
    }

    [Fact]
    public async Task PackedStreamEndingInsideAMessageIsAFormatError()
    {
        using MessageBuilder b = RandomMessages.Build(5);
        byte[] packed = PackedFraming.ToArray(b);
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(packed.AsMemory(0, packed.Length - 1));
        await pipe.Writer.CompleteAsync();
        var reader = new PackedMessageReader(pipe.Reader);
        // The missing byte may be a trailing run count, after the message's last word: then the
        // message reads whole and the truncation shows on the next read. Either way, no clean end.
        await Assert.ThrowsAsync<CapnpFormatException>(async () =>
        {
            for (int i = 0; i < 2; i++)
            {
                using MessageReader? m = await reader.ReadMessageAsync();
            }
        });
    }

    [Fact]
    public async Task PackedSegmentTableAnnouncingAHugeMessageIsRejectedBeforeUnpackingTheBody()
    {
        // segment table: 1 segment of 2^28 words (2 GiB), packed; no body follows.
        byte[] header = new byte[8];
        BitConverter.TryWriteBytes(header.AsSpan(4), 1u << 28);
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(PackedEncoder.Encode(header));
        var e = await Assert.ThrowsAsync<CapnpLimitException>(async () => await new PackedMessageReader(pipe.Reader).ReadMessageAsync());
        Assert.Equal(CapnpLimit.MessageSize, e.Limit);
    }

    [Fact]
    public void GarbageIntoTheDecoderEndsInBytesOrATypedError()
    {
        var rng = new Random(11);
        for (int i = 0; i < 5000; i++)
        {
            var bytes = new byte[rng.Next(0, 64)];
            rng.NextBytes(bytes);
            try
            {
                byte[] output = PackedDecoder.DecodeAll(bytes, maxBytes: 1 << 20);
                Assert.Equal(0, output.Length % 8);
            }
            catch (CapnpException)
            {
            }
        }
    }
}
