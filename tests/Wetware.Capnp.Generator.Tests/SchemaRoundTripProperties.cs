using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Wetware.Capnp.Tests.Schema;

namespace Wetware.Capnp.Generator.Tests;

/// <summary>Random messages of the test schema, built with generated builders, read back equal through every encoding.</summary>
public class SchemaRoundTripProperties
{
    public sealed record ScalarValues(bool Bool, sbyte Int8, short Int16, int Int32, long Int64, byte Uint8, ushort Uint16,
        uint Uint32, ulong Uint64, float Float32, double Float64, string? Text, byte[]? Data, Color Color, int InnerA, short[] More);

    private static Arbitrary<ScalarValues> Values =>
        (from b in ArbMap.Default.GeneratorFor<bool>()
         from i8 in ArbMap.Default.GeneratorFor<sbyte>()
         from i16 in ArbMap.Default.GeneratorFor<short>()
         from i32 in ArbMap.Default.GeneratorFor<int>()
         from i64 in ArbMap.Default.GeneratorFor<long>()
         from u8 in ArbMap.Default.GeneratorFor<byte>()
         from u16 in ArbMap.Default.GeneratorFor<ushort>()
         from u32 in ArbMap.Default.GeneratorFor<uint>()
         from u64 in ArbMap.Default.GeneratorFor<ulong>()
         from f32 in ArbMap.Default.GeneratorFor<float>()
         from f64 in ArbMap.Default.GeneratorFor<double>()
         from text in ArbMap.Default.GeneratorFor<string?>()
         from data in ArbMap.Default.GeneratorFor<byte[]?>()
         from color in Gen.Elements(Color.Red, Color.Green, Color.Blue)
         from a in ArbMap.Default.GeneratorFor<int>()
         from more in ArbMap.Default.GeneratorFor<short[]>()
         select new ScalarValues(b, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, text, data, color, a, more)).ToArbitrary();

    private static void Fill(Scalars.Builder s, ScalarValues v)
    {
        s.Bool = v.Bool;
        s.Int8 = v.Int8;
        s.Int16 = v.Int16;
        s.Int32 = v.Int32;
        s.Int64 = v.Int64;
        s.Uint8 = v.Uint8;
        s.Uint16 = v.Uint16;
        s.Uint32 = v.Uint32;
        s.Uint64 = v.Uint64;
        s.Float32 = v.Float32;
        s.Float64 = v.Float64;
        s.SetText(v.Text);
        if (v.Data is not null)
        {
            s.SetData(v.Data);
        }
        s.Color = v.Color;
        Inner.Builder inner = s.InitInner();
        inner.A = v.InnerA;
        PrimitiveListBuilder<short> more = inner.InitMore(v.More.Length);
        for (int i = 0; i < v.More.Length; i++)
        {
            more[i] = v.More[i];
        }
    }

    private static bool Matches(Scalars.Reader r, ScalarValues v) =>
        r.Bool == v.Bool && r.Int8 == v.Int8 && r.Int16 == v.Int16 && r.Int32 == v.Int32 && r.Int64 == v.Int64
        && r.Uint8 == v.Uint8 && r.Uint16 == v.Uint16 && r.Uint32 == v.Uint32 && r.Uint64 == v.Uint64
        && BitConverter.SingleToInt32Bits(r.Float32) == BitConverter.SingleToInt32Bits(v.Float32)
        && BitConverter.DoubleToInt64Bits(r.Float64) == BitConverter.DoubleToInt64Bits(v.Float64)
        && r.Text.IsNull == (v.Text is null) && (v.Text is null || r.Text.ToString() == SanitizedUtf16(v.Text))
        && r.Data.IsNull == (v.Data is null) && (v.Data is null || r.Data.Span.SequenceEqual(v.Data))
        && r.Color == v.Color && r.Inner.A == v.InnerA && r.Inner.More.ToArray().AsSpan().SequenceEqual(v.More);

    // Lone surrogates cannot be encoded in UTF-8; the encoder replaces them, as string round trips through UTF-8 do.
    private static string SanitizedUtf16(string s) => System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(s));

    [Property(MaxTest = 300)]
    public Property ScalarsRoundTripFramedAndPacked() => Prop.ForAll(Values, Gen.Choose(1, 64).ToArbitrary(), (v, segmentWords) =>
    {
        using var b = new MessageBuilder(segmentWords);
        Fill(b.InitRoot<Scalars.Builder>(), v);
        using MessageReader framed = Framing.Read(Framing.ToArray(b));
        using MessageReader packed = PackedFraming.Read(PackedFraming.ToArray(b));
        byte[] unpacked = PackedDecoder.DecodeAll(PackedFraming.ToArray(b));
        return Matches(framed.GetRoot<Scalars.Reader>(), v)
            && Matches(packed.GetRoot<Scalars.Reader>(), v)
            && unpacked.AsSpan().SequenceEqual(Framing.ToArray(b));
    });

    [Property(MaxTest = 200)]
    public Property ListsOfScalarsRoundTripAndCanonicalizeToTheSameValue() => Prop.ForAll(Values.Generator.ListOf().Select(l => l.ToArray()).ToArbitrary(), vs =>
    {
        using var b = new MessageBuilder(8);
        Lists.Builder l = b.InitRoot<Lists.Builder>();
        StructListBuilder<Scalars.Builder> items = l.InitAnys(vs.Length);
        for (int i = 0; i < vs.Length; i++)
        {
            Fill(items[i], vs[i]);
        }
        using MessageReader m = Framing.Read(Framing.ToArray(b));
        using var canonical = new MessageReader(Canonical.Canonicalize(m.GetRoot()));
        StructList<Scalars.Reader> a = m.GetRoot<Lists.Reader>().Anys;
        StructList<Scalars.Reader> c = canonical.GetRoot<Lists.Reader>().Anys;
        for (int i = 0; i < vs.Length; i++)
        {
            if (!Matches(a[i], vs[i]) || !Matches(c[i], vs[i]))
            {
                return false;
            }
        }
        return a.Count == vs.Length && Canonical.IsCanonical(canonical);
    });
}
