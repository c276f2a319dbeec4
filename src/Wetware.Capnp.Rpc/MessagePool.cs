namespace Wetware.Capnp.Rpc;

/// <summary>
/// One connection's builders for the messages it writes and forgets (Return, Finish, Release): a
/// cleared builder keeps its first segment, so a call allocates no builder and zeroes no fresh
/// segment (only the bytes the last message used). Per connection, not shared, so a builder only
/// ever carries this connection's messages. Bounded: builders beyond the capacity are disposed,
/// and bigger messages grow into extra segments, which go back to the array pool when cleared.
/// </summary>
internal sealed class MessagePool
{
    private const int Capacity = 16;
    private const int FirstSegmentWords = 128;
    private readonly MessageBuilder?[] _items = new MessageBuilder?[Capacity];
    private int _count;

    public MessageBuilder Rent()
    {
        lock (_items)
        {
            if (_count > 0)
            {
                MessageBuilder m = _items[--_count]!;
                _items[_count] = null;
                return m;
            }
        }
        return new MessageBuilder(FirstSegmentWords);
    }

    /// <summary>Takes the builder back; nothing may read or write it any more.</summary>
    public void Return(MessageBuilder message)
    {
        message.Clear(); // keeps the first segment, gives the others back to the array pool
        lock (_items)
        {
            if (_count < Capacity)
            {
                _items[_count++] = message;
                return;
            }
        }
        message.Dispose();
    }
}
