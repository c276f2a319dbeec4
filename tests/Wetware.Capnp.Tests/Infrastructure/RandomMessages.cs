namespace Wetware.Capnp.Tests.Infrastructure;

/// <summary>Builds random messages of every object kind, for property and fuzz tests.</summary>
internal static class RandomMessages
{
    public static MessageBuilder Build(int seed, int firstSegmentWords = MessageBuilder.DefaultFirstSegmentWords)
    {
        var rng = new Random(seed);
        var b = new MessageBuilder(firstSegmentWords);
        FillStruct(rng, b.InitRoot(rng.Next(0, 4), rng.Next(0, 5)), depth: 0);
        return b;
    }

    private static ulong Word(Random rng) => rng.Next(4) switch
    {
        0 => 0,
        1 => ulong.MaxValue,
        2 => (ulong)rng.Next(256),
        _ => (ulong)rng.NextInt64(),
    };

    private static void FillStruct(Random rng, StructBuilder s, int depth)
    {
        for (int off = 0; off + 8 <= s.DataBytes; off += 8)
        {
            s.WriteUInt64(off, Word(rng));
        }
        for (int i = 0; i < s.PointerCount; i++)
        {
            FillPointer(rng, s.GetAnyPointer(i), depth + 1);
        }
    }

    private static void FillPointer(Random rng, AnyPointerBuilder p, int depth)
    {
        int choice = depth > 5 ? rng.Next(0, 3) : rng.Next(0, 9);
        switch (choice)
        {
            case 0:
                break; // null
            case 1:
                p.SetText(RandomText(rng));
                break;
            case 2:
                var bytes = new byte[rng.Next(0, 40)];
                rng.NextBytes(bytes);
                p.SetData(bytes);
                break;
            case 3:
                FillStruct(rng, p.InitStruct(rng.Next(0, 3), rng.Next(0, 3)), depth);
                break;
            case 4:
                {
                    var size = (ElementSize)rng.Next(0, 6);
                    ListBuilder l = p.InitList(size, rng.Next(0, 70));
                    for (int i = 0; i < l.Count; i++)
                    {
                        switch (size)
                        {
                            case ElementSize.Bit:
                                l.WriteBool(i, rng.Next(2) == 1);
                                break;
                            case ElementSize.Byte:
                                l.Write(i, (byte)Word(rng));
                                break;
                            case ElementSize.TwoBytes:
                                l.Write(i, (ushort)Word(rng));
                                break;
                            case ElementSize.FourBytes:
                                l.Write(i, (uint)Word(rng));
                                break;
                            case ElementSize.EightBytes:
                                l.Write(i, Word(rng));
                                break;
                        }
                    }
                    break;
                }
            case 5:
                {
                    ListBuilder l = p.InitList(ElementSize.Pointer, rng.Next(0, 6));
                    for (int i = 0; i < l.Count; i++)
                    {
                        FillPointer(rng, l.GetAnyPointer(i), depth + 1);
                    }
                    break;
                }
            case 6:
                {
                    ListBuilder l = p.InitStructList(rng.Next(0, 5), rng.Next(0, 3), rng.Next(0, 3));
                    for (int i = 0; i < l.Count; i++)
                    {
                        FillStruct(rng, l.GetStruct(i), depth + 1);
                    }
                    break;
                }
            case 7:
                p.SetCapability((uint)rng.Next(0, 100));
                break;
            default:
                p.InitStruct(0, 0); // zero-sized struct
                break;
        }
    }

    private static string RandomText(Random rng)
    {
        const string alphabet = "abcxyz \n\"\\é€𝄞0123456789";
        int n = rng.Next(0, 30);
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < n; i++)
        {
            int at = rng.Next(alphabet.Length);
            if (char.IsHighSurrogate(alphabet[at]))
            {
                sb.Append(alphabet, at, 2);
            }
            else if (!char.IsLowSurrogate(alphabet[at]))
            {
                sb.Append(alphabet[at]);
            }
        }
        return sb.ToString();
    }
}
