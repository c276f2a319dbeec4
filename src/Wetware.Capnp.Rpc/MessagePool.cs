namespace Wetware.Capnp.Rpc;

/// <summary>
/// Builders for the messages connections write and forget (Return, Finish, Release), shared by
/// every connection: a cleared builder keeps its first segment, so a call allocates no builder and
/// zeroes no fresh 8 KiB segment (only the bytes the last message used). Bounded: builders beyond
/// the capacity are disposed.
/// </summary>
internal static class MessagePool
{
    private const int Capacity = 64;
    private static readonly object Sync = new();
    private static readonly MessageBuilder?[] Items = new MessageBuilder?[Capacity];
    private static int _count;

    public static MessageBuilder Rent()
    {
        lock (Sync)
        {
            if (_count > 0)
            {
                MessageBuilder m = Items[--_count]!;
                Items[_count] = null;
                return m;
            }
        }
        return new MessageBuilder();
    }

    /// <summary>Takes the builder back; nothing may read it any more.</summary>
    public static void Return(MessageBuilder message)
    {
        message.Clear(); // keeps the first segment, gives the others back to the array pool
        lock (Sync)
        {
            if (_count < Capacity)
            {
                Items[_count++] = message;
                return;
            }
        }
        message.Dispose();
    }
}
