using System.Buffers;
using System.Buffers.Binary;

namespace Wetware.P2p.Yamux;

/// <summary>Yamux frame types (yamux spec, "Message Type").</summary>
internal enum FrameType : byte
{
    Data = 0,
    WindowUpdate = 1,
    Ping = 2,
    GoAway = 3,
}

/// <summary>Yamux flags (yamux spec, "Flags").</summary>
[Flags]
internal enum FrameFlags : ushort
{
    None = 0,
    Syn = 1,
    Ack = 2,
    Fin = 4,
    Rst = 8,
}

/// <summary>GoAway codes (yamux spec): the length field of a GoAway frame.</summary>
internal enum GoAwayCode : uint
{
    Normal = 0,
    ProtocolError = 1,
    InternalError = 2,
}

/// <summary>
/// The 12-byte Yamux header, big-endian: version (0), type, flags (2 bytes), stream id (4), length (4). The length
/// is the data size for Data, the window delta for WindowUpdate, the opaque value for Ping, the code for GoAway.
/// </summary>
internal readonly record struct FrameHeader(FrameType Type, FrameFlags Flags, uint StreamId, uint Length)
{
    public const int Size = 12;
    public const byte Version = 0;

    public void Write(Span<byte> destination)
    {
        destination[0] = Version;
        destination[1] = (byte)Type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)Flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], Length);
    }

    /// <summary>Reads a header; throws <see cref="P2pException"/> for an unknown version or type.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source)
    {
        if (source[0] != Version)
        {
            throw P2pException.Protocol($"yamux: frame version {source[0]} (only 0 exists)");
        }
        if (source[1] > (byte)FrameType.GoAway)
        {
            throw P2pException.Protocol($"yamux: unknown frame type {source[1]}");
        }
        return new FrameHeader(
            (FrameType)source[1],
            (FrameFlags)BinaryPrimitives.ReadUInt16BigEndian(source[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[8..]));
    }

    public static FrameHeader Read(in ReadOnlySequence<byte> source)
    {
        if (source.FirstSpan.Length >= Size)
        {
            return Read(source.FirstSpan);
        }
        Span<byte> raw = stackalloc byte[Size];
        source.Slice(0, Size).CopyTo(raw);
        return Read(raw);
    }

    public override string ToString() => $"{Type} flags={Flags} stream={StreamId} length={Length}";
}
