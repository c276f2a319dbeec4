namespace Wetware.Identity;

/// <summary>
/// Unsigned LEB128 varints as multiformats uses them (unsigned-varint spec): at most 9 bytes (63 bits),
/// minimally encoded. Also the varints of the two protobuf fields of a libp2p public key.
/// </summary>
internal static class UVarint
{
    /// <summary>The multiformats limit: 9 bytes carry 63 bits.</summary>
    public const int MaxLength = 9;

    public static int Size(ulong value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    public static int Write(ulong value, Span<byte> destination)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Reads one varint; false when it is truncated, longer than 9 bytes or not minimal.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int length)
    {
        value = 0;
        length = 0;
        for (int i = 0; i < source.Length && i < MaxLength; i++)
        {
            byte b = source[i];
            value |= (ulong)(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0)
            {
                // A last byte of zero after the first means the value had a shorter encoding.
                if (b == 0 && i > 0)
                {
                    value = 0;
                    return false;
                }
                length = i + 1;
                return true;
            }
        }
        value = 0;
        return false;
    }
}
