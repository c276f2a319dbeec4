using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Wetware.Capnp;

/// <summary>
/// The packed encoding (encoding spec, "Packing"): each word becomes a tag byte whose bits
/// mark its non-zero bytes, followed by those bytes. A 0x00 tag is followed by a count of
/// further all-zero words; a 0xFF tag by a count of words copied verbatim. The run-length
/// choices follow the reference implementation, so our output is byte-identical to it.
/// </summary>
public static class PackedEncoder
{
    /// <summary>Worst case for one step of the encoder: tag, 8 bytes, count, 255 literal words.</summary>
    private const int MaxStepBytes = 10 + 255 * 8;

    /// <summary>An upper bound on the packed size of <paramref name="wordBytes"/> bytes of words.</summary>
    public static int MaxEncodedLength(int wordBytes) => checked(wordBytes + (wordBytes / 8 + 1) * 2 + wordBytes / (255 * 8) + 2);

    /// <summary>Packs <paramref name="words"/> (a whole number of words) into <paramref name="output"/>.</summary>
    public static void Encode(ReadOnlySpan<byte> words, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (words.Length % 8 != 0)
        {
            throw new ArgumentException($"packing needs whole words, got {words.Length} bytes", nameof(words));
        }
        int i = 0;
        while (i < words.Length)
        {
            Span<byte> o = output.GetSpan(MaxStepBytes * 2);
            int w = 0;
            while (i < words.Length && o.Length - w >= MaxStepBytes)
            {
                ulong word = BinaryPrimitives.ReadUInt64LittleEndian(words[i..]);
                i += 8;
                byte tag = Tag(word);
                o[w++] = tag;
                if (tag == 0)
                {
                    int run = 0;
                    while (run < 255 && i < words.Length && BinaryPrimitives.ReadUInt64LittleEndian(words[i..]) == 0)
                    {
                        run++;
                        i += 8;
                    }
                    o[w++] = (byte)run;
                    continue;
                }
                if (Ssse3.IsSupported)
                {
                    // Compact the non-zero bytes with one shuffle (16 bytes stored; the step has room).
                    Vector128<byte> bytes = Vector128.CreateScalar(word).AsByte();
                    Vector128<byte> compact = Ssse3.Shuffle(bytes, CompactMasks[tag]);
                    compact.StoreUnsafe(ref MemoryMarshal.GetReference(o), (nuint)w);
                    w += System.Numerics.BitOperations.PopCount(tag);
                }
                else
                {
                    for (int b = 0; b < 8; b++)
                    {
                        byte v = (byte)(word >> (b * 8));
                        o[w] = v;
                        w += v != 0 ? 1 : 0;
                    }
                }
                if (tag == 0xFF)
                {
                    // Words with at most one zero byte are cheaper copied than tagged.
                    int start = i;
                    int limit = Math.Min(words.Length, i + 255 * 8);
                    while (i < limit && ZeroBytes(BinaryPrimitives.ReadUInt64LittleEndian(words[i..])) < 2)
                    {
                        i += 8;
                    }
                    o[w++] = (byte)((i - start) / 8);
                    words[start..i].CopyTo(o[w..]);
                    w += i - start;
                }
            }
            output.Advance(w);
        }
    }

    /// <summary>For each tag, the shuffle that moves the word's marked bytes to the front.</summary>
    private static readonly Vector128<byte>[] CompactMasks = BuildCompactMasks();

    private static Vector128<byte>[] BuildCompactMasks()
    {
        var masks = new Vector128<byte>[256];
        Span<byte> m = stackalloc byte[16];
        for (int tag = 0; tag < 256; tag++)
        {
            m.Fill(0x80);
            int k = 0;
            for (int b = 0; b < 8; b++)
            {
                if ((tag & (1 << b)) != 0)
                {
                    m[k++] = (byte)b;
                }
            }
            masks[tag] = Vector128.Create((ReadOnlySpan<byte>)m);
        }
        return masks;
    }

    /// <summary>Bit i set when byte i of the word is non-zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static byte Tag(ulong word)
    {
        ulong x = word;
        x |= x >> 4;
        x |= x >> 2;
        x |= x >> 1;
        x &= 0x0101_0101_0101_0101ul;
        return (byte)((x * 0x0102_0408_1020_4080ul) >> 56);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ZeroBytes(ulong word) => 8 - System.Numerics.BitOperations.PopCount(Tag(word));

    /// <summary>Packs <paramref name="words"/> into a new array.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> words)
    {
        var w = new ArrayBufferWriter<byte>(Math.Max(16, words.Length / 2));
        Encode(words, w);
        return w.WrittenSpan.ToArray();
    }
}
