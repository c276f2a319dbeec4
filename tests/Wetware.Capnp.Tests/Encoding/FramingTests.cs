using System.IO.Pipelines;

namespace Wetware.Capnp.Tests.Encoding;

public class FramingTests
{
    private static MessageBuilder Sample(int value, int segmentWords = 1024)
    {
        var b = new MessageBuilder(segmentWords);
        StructBuilder r = b.InitRoot(1, 1);
        r.WriteInt32(0, value);
        r.SetText(0, new string('z', value));
        return b;
    }

    [Fact]
    public void SegmentTableIsPaddedToAWord()
    {
        Assert.Equal(8, Framing.HeaderBytes(1));
        Assert.Equal(16, Framing.HeaderBytes(2));
        Assert.Equal(16, Framing.HeaderBytes(3));
        Assert.Equal(24, Framing.HeaderBytes(4));
    }

    [Fact]
    public async Task MessagesWrittenToAPipeAreReadBackInOrderThenEndCleanly()
    {
        var pipe = new Pipe();
        for (int i = 0; i < 20; i++)
        {
            using MessageBuilder b = Sample(i, segmentWords: 1 + i % 3);
            await Framing.WriteMessageAsync(pipe.Writer, b);
        }
        await pipe.Writer.CompleteAsync();

        for (int i = 0; i < 20; i++)
        {
            using MessageReader? m = await Framing.ReadMessageAsync(pipe.Reader);
            Assert.NotNull(m);
            Assert.Equal(i, m.GetRoot().ReadInt32(0));
            Assert.Equal(new string('z', i), m.GetRoot().ReadText(0).ToString());
        }
        Assert.Null(await Framing.ReadMessageAsync(pipe.Reader));
    }

    [Fact]
    public async Task MessageArrivingOneByteAtATimeIsReadWhole()
    {
        using MessageBuilder b = Sample(300, segmentWords: 8);
        byte[] bytes = Framing.ToArray(b);
        var pipe = new Pipe();
        Task<MessageReader?> read = Framing.ReadMessageAsync(pipe.Reader).AsTask();
        foreach (byte x in bytes)
        {
            await pipe.Writer.WriteAsync(new[] { x });
        }
        using MessageReader? m = await read;
        Assert.Equal(300, m!.GetRoot().ReadInt32(0));
    }

    [Fact]
    public async Task StreamEndingInsideAMessageIsAFormatError()
    {
        using MessageBuilder b = Sample(50);
        byte[] bytes = Framing.ToArray(b);
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(bytes.AsMemory(0, bytes.Length - 3));
        await pipe.Writer.CompleteAsync();
        var e = await Assert.ThrowsAsync<CapnpFormatException>(async () => await Framing.ReadMessageAsync(pipe.Reader));
        Assert.Contains("ended inside a message", e.Message);
    }

    [Fact]
    public async Task OversizedMessageIsRejectedFromItsHeaderAlone()
    {
        var pipe = new Pipe();
        byte[] header = new byte[8];
        BitConverter.TryWriteBytes(header.AsSpan(4), 1_000_000u); // 8 MB announced
        await pipe.Writer.WriteAsync(header);
        var options = new ReaderOptions { MaxMessageBytes = 1 << 20 };
        var e = await Assert.ThrowsAsync<CapnpLimitException>(async () => await Framing.ReadMessageAsync(pipe.Reader, options));
        Assert.Equal(CapnpLimit.MessageSize, e.Limit);
    }

    [Fact]
    public void ReadingFromAnArrayIsZeroCopy()
    {
        using MessageBuilder b = Sample(5);
        byte[] bytes = Framing.ToArray(b);
        using MessageReader m = Framing.Read(bytes);
        Assert.Equal(5, m.GetRoot().ReadInt32(0));
        bytes[8 + 8] = 6; // first data word of the root struct
        Assert.Equal(6, m.GetRoot().ReadInt32(0));
    }

    [Fact]
    public void BytesAfterTheMessageAreRejectedWhenTheMessageMustFillTheBuffer()
    {
        using MessageBuilder b = Sample(5);
        byte[] bytes = [.. Framing.ToArray(b), .. new byte[8]];
        Assert.Throws<CapnpFormatException>(() => Framing.Read(bytes));
        using MessageReader m = Framing.Read(bytes, out int consumed);
        Assert.Equal(bytes.Length - 8, consumed);
    }
}
