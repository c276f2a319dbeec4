using System.Buffers;
using System.Text;

namespace Wetware.P2p;

/// <summary>
/// The little protobuf that libp2p's messages need (the Noise handshake payload, identify): varint and
/// length-delimited fields written in field order, and a reader that skips fields it does not know. Proto2/proto3
/// wire format; groups (wire types 3 and 4) are refused.
/// </summary>
internal static class Protobuf
{
    public const int WireVarint = 0;
    public const int WireFixed64 = 1;
    public const int WireBytes = 2;
    public const int WireFixed32 = 5;

    public static void WriteBytes(ArrayBufferWriter<byte> writer, int field, ReadOnlySpan<byte> value)
    {
        Varint.Write(writer, (ulong)((field << 3) | WireBytes));
        Varint.Write(writer, (ulong)value.Length);
        writer.Write(value);
    }

    public static void WriteString(ArrayBufferWriter<byte> writer, int field, string value) =>
        WriteBytes(writer, field, Encoding.UTF8.GetBytes(value));
}

/// <summary>One field at a time over a protobuf message; <see cref="Next"/> throws <see cref="P2pException"/> on malformed input.</summary>
internal ref struct ProtobufReader
{
    private readonly string _message;
    private ReadOnlySpan<byte> _rest;

    public ProtobufReader(ReadOnlySpan<byte> bytes, string message)
    {
        _rest = bytes;
        _message = message;
    }

    public int Field { get; private set; }

    public int WireType { get; private set; }

    /// <summary>The value of a varint field.</summary>
    public ulong Varint { get; private set; }

    /// <summary>The value of a length-delimited field.</summary>
    public ReadOnlySpan<byte> Bytes { get; private set; }

    public bool Next()
    {
        if (_rest.IsEmpty)
        {
            return false;
        }
        if (!P2p.Varint.TryRead(_rest, out ulong tag, out int n) || tag >> 3 is 0 or > int.MaxValue)
        {
            throw Malformed("a malformed field tag");
        }
        _rest = _rest[n..];
        Field = (int)(tag >> 3);
        WireType = (int)(tag & 7);
        switch (WireType)
        {
            case Protobuf.WireVarint:
                if (!P2p.Varint.TryRead(_rest, out ulong value, out n))
                {
                    // Protobuf allows 10-byte varints (negative int64); none of libp2p's fields need one.
                    throw Malformed($"a malformed varint in field {Field}");
                }
                Varint = value;
                _rest = _rest[n..];
                break;
            case Protobuf.WireBytes:
                if (!P2p.Varint.TryRead(_rest, out ulong length, out n) || length > (ulong)(_rest.Length - n))
                {
                    throw Malformed($"field {Field} is truncated");
                }
                Bytes = _rest.Slice(n, (int)length);
                _rest = _rest[(n + (int)length)..];
                break;
            case Protobuf.WireFixed64:
                if (_rest.Length < 8)
                {
                    throw Malformed($"field {Field} is truncated");
                }
                _rest = _rest[8..];
                break;
            case Protobuf.WireFixed32:
                if (_rest.Length < 4)
                {
                    throw Malformed($"field {Field} is truncated");
                }
                _rest = _rest[4..];
                break;
            default:
                throw Malformed($"wire type {WireType} in field {Field}");
        }
        return true;
    }

    public readonly string String()
    {
        if (WireType != Protobuf.WireBytes || !System.Text.Unicode.Utf8.IsValid(Bytes))
        {
            throw Malformed($"field {Field} is not a UTF-8 string");
        }
        return Encoding.UTF8.GetString(Bytes);
    }

    public readonly byte[] ByteArray()
    {
        if (WireType != Protobuf.WireBytes)
        {
            throw Malformed($"field {Field} is not length-delimited");
        }
        return Bytes.ToArray();
    }

    private readonly P2pException Malformed(string what) => P2pException.Protocol($"{_message}: {what}");
}
