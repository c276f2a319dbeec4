using System.Buffers;
using System.Buffers.Binary;

namespace Wetware.Capnp.Rpc;

/// <summary>
/// A message read from the transport: its frame copied once into a pooled array and read in place.
/// Disposing it gives the array back and the object (with its reader and segment table) to its
/// connection's <see cref="ReceivedMessages"/>, for a later message: a call then allocates no reader.
/// Views of the message must not be used after it is disposed (as with any pooled message).
/// </summary>
internal sealed class ReceivedMessage : IDisposable
{
    private readonly ReceivedMessages _pool;
    private byte[]? _frame;

    internal ReceivedMessage(ReceivedMessages pool, MessageReader reader, byte[] frame)
    {
        _pool = pool;
        Reader = reader;
        _frame = frame;
    }

    public MessageReader Reader { get; }

    /// <summary>Points this (recycled) message at a new frame of exactly the frame's length.</summary>
    internal void Reset(byte[] frame, int length)
    {
        Reader.Reset(new ReadOnlyMemory<byte>(frame, 0, length));
        _frame = frame;
    }

    /// <summary>Once: a second dispose must not give back an array, or an object, that serves another message by then.</summary>
    public void Dispose()
    {
        byte[]? frame = Interlocked.Exchange(ref _frame, null);
        if (frame is null)
        {
            return;
        }
        ArrayPool<byte>.Shared.Return(frame);
        _pool.Return(this);
    }
}

/// <summary>
/// Takes whole messages off a connection's input, each into a <see cref="ReceivedMessage"/>, reusing
/// the ones given back. Bounded: beyond the capacity, given-back messages are left to the collector.
/// </summary>
internal sealed class ReceivedMessages(ReaderOptions options)
{
    private const int Capacity = 16;
    private readonly ReceivedMessage?[] _free = new ReceivedMessage?[Capacity];
    private int _count;

    /// <summary>
    /// Takes one whole message from the front of <paramref name="buffer"/>; false, leaving it
    /// unchanged, when the message is not all there yet. The limits are checked as soon as the
    /// segment table is in, before the body is buffered, exactly as <see cref="Framing.TryRead"/> does.
    /// </summary>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out ReceivedMessage? message)
    {
        message = null;
        if (buffer.Length < 4)
        {
            return false;
        }
        Span<byte> first = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(first);
        long segments = (long)BinaryPrimitives.ReadUInt32LittleEndian(first) + 1;
        if (segments > options.MaxSegments)
        {
            throw new CapnpLimitException(CapnpLimit.SegmentCount, options.MaxSegments);
        }
        int header = Framing.HeaderBytes((int)segments);
        if (buffer.Length < header)
        {
            return false;
        }
        Span<byte> table = segments <= 64 ? stackalloc byte[header] : new byte[header];
        buffer.Slice(0, header).CopyTo(table);
        long words = 0;
        for (int i = 0; i < segments; i++)
        {
            words += BinaryPrimitives.ReadUInt32LittleEndian(table[(4 + 4 * i)..]);
        }
        long length = header + words * 8;
        if (length > options.MaxMessageBytes)
        {
            throw new CapnpLimitException(CapnpLimit.MessageSize, options.MaxMessageBytes);
        }
        if (buffer.Length < length)
        {
            return false;
        }
        byte[] frame = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            buffer.Slice(0, length).CopyTo(frame);
            message = Rent(frame, (int)length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(frame);
            throw;
        }
        buffer = buffer.Slice(length);
        return true;
    }

    private ReceivedMessage Rent(byte[] frame, int length)
    {
        ReceivedMessage? m = null;
        lock (_free)
        {
            if (_count > 0)
            {
                m = _free[--_count];
                _free[_count] = null;
            }
        }
        if (m is null)
        {
            return new ReceivedMessage(this, Framing.Read(new ReadOnlyMemory<byte>(frame, 0, length), options), frame);
        }
        m.Reset(frame, length);
        return m;
    }

    public void Return(ReceivedMessage message)
    {
        lock (_free)
        {
            if (_count < Capacity)
            {
                _free[_count++] = message;
            }
        }
    }
}
