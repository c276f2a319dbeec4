using System.Buffers.Binary;

namespace Wetware.Capnp.Tests.Infrastructure;

/// <summary>Hand-assembles messages word by word, to test the reader on exact bytes.</summary>
internal static class Words
{
    public static byte[] Of(params ulong[] words)
    {
        var b = new byte[words.Length * 8];
        for (int i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(i * 8), words[i]);
        }
        return b;
    }

    /// <summary>A struct pointer: offset in words from the end of the pointer, data words, pointer count.</summary>
    public static ulong Struct(int offset, int dataWords, int pointers) =>
        ((ulong)(uint)(offset << 2)) | ((ulong)(ushort)dataWords << 32) | ((ulong)(ushort)pointers << 48);

    public static ulong List(int offset, ElementSize size, uint count) =>
        ((ulong)(uint)(offset << 2) | 1) | ((ulong)size << 32) | ((ulong)count << 35);

    public static ulong Far(uint segment, uint padWord, bool doubleFar = false) =>
        ((ulong)padWord << 3) | (doubleFar ? 6ul : 2ul) | ((ulong)segment << 32);

    public static ulong Capability(uint index) => 3ul | ((ulong)index << 32);

    public static MessageReader Message(params ulong[] words) => new(Of(words));

    public static MessageReader Message(ReaderOptions options, params ulong[] words) => new(Of(words), options);
}
