using System.Buffers;
using BenchmarkDotNet.Attributes;
using Wetware.Capnp.Bench.Schema;

namespace Wetware.Capnp.Bench;

/// <summary>The four operations the C++ reference measures, on the same message.</summary>
[MemoryDiagnoser]
public class CapnpBenchmarks
{
    private readonly MessageBuilder _builder = new();
    private readonly ArrayBufferWriter<byte> _out = new(16384);
    private MessageBuilder _message = null!;
    private byte[] _framed = null!;
    private byte[] _packed = null!;
    private MessageReader _reader = null!;
    private MessageReader _unpackedReader = null!;
    private byte[] _unpackScratch = null!;

    /// <summary>The benchmark message as a frame, to compare with the C++ one byte for byte.</summary>
    public static byte[] FramedMessage()
    {
        using var m = new MessageBuilder();
        BenchMessages.Fill(m.InitRoot<BenchMessage.Builder>());
        return Framing.ToArray(m);
    }

    [GlobalSetup]
    public void Setup()
    {
        _message = new MessageBuilder();
        BenchMessages.Fill(_message.InitRoot<BenchMessage.Builder>());
        _framed = Framing.ToArray(_message);
        _packed = PackedFraming.ToArray(_message);
        _reader = Framing.Read(_framed);
        _unpackScratch = new byte[_framed.Length];
        _unpackedReader = Framing.Read(_framed.ToArray());
    }

    /// <summary>A reused builder filled and written as a frame (C++: MallocMessageBuilder over reused scratch, writeMessage).</summary>
    [Benchmark]
    public int Build()
    {
        _builder.Clear();
        BenchMessages.Fill(_builder.InitRoot<BenchMessage.Builder>());
        _out.ResetWrittenCount();
        Framing.Write(_out, _builder);
        return _out.WrittenCount;
    }

    /// <summary>Open the frame and read every field (C++: FlatArrayMessageReader, getRoot, every getter).</summary>
    [Benchmark]
    public long Read()
    {
        _reader.Reset(_framed);
        return BenchMessages.ReadAll(_reader.GetRoot<BenchMessage.Reader>());
    }

    /// <summary>Pack the built message (C++: writePackedMessage to an array stream).</summary>
    [Benchmark]
    public int Pack()
    {
        _out.ResetWrittenCount();
        PackedFraming.Write(_out, _message);
        return _out.WrittenCount;
    }

    /// <summary>Unpack into a reused buffer and open the root (C++: PackedMessageReader with scratch space).</summary>
    [Benchmark]
    public int Unpack()
    {
        var decoder = new PackedDecoder();
        decoder.Decode(_packed, _unpackScratch, out _, out int written);
        _unpackedReader.Reset(_unpackScratch.AsMemory(0, written));
        return _unpackedReader.GetRoot<BenchMessage.Reader>().Count;
    }
}
