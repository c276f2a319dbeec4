using Wetware.Capnp.Bench.Schema;

namespace Wetware.Capnp.Bench;

/// <summary>The benchmark message; values match bench/cpp/capnp_bench.cpp exactly.</summary>
internal static class BenchMessages
{
    private const string Name = "benchmark message number one";
    private const string Description =
        "A message of about one kilobyte, with scalars, a few texts, a list of ten small structs " +
        "and a nested struct, built, read, packed and unpacked by both implementations. The same values are " +
        "filled on both sides, so the bytes are identical and the times can be compared one to one, as a ratio.";
    private const string Owner = "wetware-dotnet benchmarks";
    private static readonly string[] Labels =
        ["item zero", "item one", "item two", "item three", "item four", "item five", "item six", "item seven", "item eight", "item nine"];

    public static void Fill(BenchMessage.Builder m)
    {
        m.Id = 0x0123456789abcdefUL;
        m.Timestamp = 1764000000000L;
        m.Count = 42;
        m.Ratio = 0.625;
        m.Score = 98.5f;
        m.Active = true;
        m.Flagged = false;
        m.Kind = BenchMessage.Kind.Gamma;
        m.SetName(Name);
        m.SetDescription(Description);
        m.SetOwner(Owner);
        StructListBuilder<BenchMessage.Item.Builder> items = m.InitItems(10);
        for (int i = 0; i < 10; i++)
        {
            BenchMessage.Item.Builder it = items[i];
            it.Index = i;
            it.Weight = i * 1.5;
            it.SetLabel(Labels[i]);
        }
        BenchMessage.Nested.Builder n = m.InitNested();
        n.X = -7;
        n.Y = 1 << 20;
        n.SetNote("nested note text");
    }

    public static long ReadAll(BenchMessage.Reader m)
    {
        long sum = (long)m.Id + m.Timestamp + m.Count + (long)m.Ratio + (long)m.Score
            + (m.Active ? 1 : 0) + (m.Flagged ? 1 : 0) + (int)m.Kind;
        sum += m.Name.Length + m.Description.Length + m.Owner.Length;
        foreach (BenchMessage.Item.Reader it in m.Items)
        {
            sum += it.Index + (long)it.Weight + it.Label.Length;
        }
        BenchMessage.Nested.Reader n = m.Nested;
        sum += n.X + n.Y + n.Note.Length;
        return sum;
    }
}
