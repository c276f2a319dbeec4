namespace Wetware.Capnp.Rpc;

/// <summary>A table whose ids we choose: the lowest free id is reused, so ids stay small (as rpc.capnp recommends).</summary>
internal sealed class IdTable<T> where T : class
{
    private readonly List<T?> _slots = [];
    private readonly PriorityQueue<uint, uint> _free = new();

    public int Count { get; private set; }

    public uint Add(T value)
    {
        uint id;
        if (_free.Count > 0)
        {
            id = _free.Dequeue();
            _slots[(int)id] = value;
        }
        else
        {
            id = (uint)_slots.Count;
            _slots.Add(value);
        }
        Count++;
        return id;
    }

    public T? Find(uint id) => id < (uint)_slots.Count ? _slots[(int)id] : null;

    public T this[uint id] => Find(id) ?? throw new KeyNotFoundException($"no entry {id}");

    public bool Remove(uint id)
    {
        if (Find(id) is null)
        {
            return false;
        }
        _slots[(int)id] = null;
        _free.Enqueue(id, id);
        Count--;
        return true;
    }

    public IEnumerable<(uint Id, T Value)> Entries()
    {
        for (int i = 0; i < _slots.Count; i++)
        {
            if (_slots[i] is T v)
            {
                yield return ((uint)i, v);
            }
        }
    }
}
