using System.Buffers.Binary;
using Wasmtime;

namespace Wetware.Cells.Wasi;

/// <summary>A guest pointer and length, already checked against the guest's memory.</summary>
internal readonly record struct IoVec(uint Pointer, uint Length);

/// <summary>
/// A bounds-checked view of a guest's linear memory for the length of one host call. Every access checks
/// the whole range first, so a hostile pointer yields <see cref="Errno.Fault"/> and never touches host memory.
/// The view must not outlive the call: the guest cannot grow its memory while we hold it, but it can afterwards.
/// </summary>
internal readonly unsafe ref struct GuestMemory
{
    private readonly byte* _base;
    private readonly ulong _length;

    public GuestMemory(Memory? memory)
    {
        if (memory is null)
        {
            _base = null;
            _length = 0;
            return;
        }
        _base = (byte*)memory.GetPointer();
        _length = (ulong)memory.GetLength();
    }

    public ulong Length => _length;

    public bool Contains(uint pointer, ulong length) => pointer + length <= _length;

    /// <summary>The bytes at [pointer, pointer + length), or false when any of them lies outside memory.</summary>
    public bool TrySpan(uint pointer, uint length, out Span<byte> span)
    {
        if (!Contains(pointer, length) || length > int.MaxValue)
        {
            span = default;
            return false;
        }
        span = new Span<byte>(_base + pointer, (int)length);
        return true;
    }

    /// <summary>Only for ranges already checked (an <see cref="IoVec"/> from <see cref="TryReadIoVecs"/>).</summary>
    public Span<byte> Span(IoVec v) => new(_base + v.Pointer, (int)v.Length);

    public bool TryReadU8(uint p, out byte v)
    {
        if (!Contains(p, 1))
        {
            v = 0;
            return false;
        }
        v = _base[p];
        return true;
    }

    public bool TryReadU16(uint p, out ushort v)
    {
        if (!TrySpan(p, 2, out Span<byte> s))
        {
            v = 0;
            return false;
        }
        v = BinaryPrimitives.ReadUInt16LittleEndian(s);
        return true;
    }

    public bool TryReadU32(uint p, out uint v)
    {
        if (!TrySpan(p, 4, out Span<byte> s))
        {
            v = 0;
            return false;
        }
        v = BinaryPrimitives.ReadUInt32LittleEndian(s);
        return true;
    }

    public bool TryReadU64(uint p, out ulong v)
    {
        if (!TrySpan(p, 8, out Span<byte> s))
        {
            v = 0;
            return false;
        }
        v = BinaryPrimitives.ReadUInt64LittleEndian(s);
        return true;
    }

    public bool TryWriteU32(uint p, uint v)
    {
        if (!TrySpan(p, 4, out Span<byte> s))
        {
            return false;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s, v);
        return true;
    }

    public bool TryWriteU64(uint p, ulong v)
    {
        if (!TrySpan(p, 8, out Span<byte> s))
        {
            return false;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(s, v);
        return true;
    }

    /// <summary>
    /// Reads and checks an iovec array of <paramref name="vecs"/>.Length entries into <paramref name="vecs"/>:
    /// the array itself and every buffer it names must lie in memory. Lengths are clamped so their sum fits an
    /// int (reads and writes may be partial anyway). The caller checks the count against <see cref="MaxIoVecs"/>.
    /// </summary>
    public Errno TryReadIoVecs(uint iovs, Span<IoVec> vecs)
    {
        if (!TrySpan(iovs, (uint)vecs.Length * Layout.IoVecSize, out Span<byte> table))
        {
            return Errno.Fault;
        }
        long total = 0;
        for (int i = 0; i < vecs.Length; i++)
        {
            uint ptr = BinaryPrimitives.ReadUInt32LittleEndian(table[(i * 8)..]);
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(table[(i * 8 + 4)..]);
            if (!Contains(ptr, len))
            {
                return Errno.Fault;
            }
            len = (uint)Math.Min(len, int.MaxValue - total);
            total += len;
            vecs[i] = new IoVec(ptr, len);
        }
        return Errno.Success;
    }

    /// <summary>Iovec arrays up to this long are read onto the stack (wasi-libc passes one or two).</summary>
    public const int StackIoVecs = 8;

    /// <summary>POSIX IOV_MAX; more is EINVAL, as on Linux.</summary>
    public const uint MaxIoVecs = 1024;
}
