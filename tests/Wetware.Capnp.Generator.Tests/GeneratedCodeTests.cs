using Wetware.Capnp.Tests.Infrastructure;
using Wetware.Capnp.Tests.Schema;

namespace Wetware.Capnp.Generator.Tests;

public class GeneratedCodeTests
{
    private static MessageReader RoundTrip(MessageBuilder b) => Framing.Read(Framing.ToArray(b));

    [Fact]
    public void EveryScalarFieldKindRoundTripsThroughGeneratedBuilderAndReader()
    {
        using var b = new MessageBuilder();
        Scalars.Builder s = b.InitRoot<Scalars.Builder>();
        s.Bool = true;
        s.Int8 = -100;
        s.Int16 = -30000;
        s.Int32 = int.MinValue;
        s.Int64 = long.MaxValue;
        s.Uint8 = 250;
        s.Uint16 = 65000;
        s.Uint32 = 4_000_000_000;
        s.Uint64 = ulong.MaxValue - 1;
        s.Float32 = 1.25f;
        s.Float64 = -2.5e-200;
        s.SetText("héllo");
        s.SetData([9, 8, 7]);
        s.Color = Color.Blue;
        Inner.Builder inner = s.InitInner();
        inner.A = 5;
        inner.SetB("in");
        var more = inner.InitMore(2);
        more[0] = -1;
        more[1] = 2;

        using MessageReader m = RoundTrip(b);
        Scalars.Reader r = m.GetRoot<Scalars.Reader>();
        Assert.True(r.Bool);
        Assert.Equal(-100, r.Int8);
        Assert.Equal(-30000, r.Int16);
        Assert.Equal(int.MinValue, r.Int32);
        Assert.Equal(long.MaxValue, r.Int64);
        Assert.Equal(250, r.Uint8);
        Assert.Equal(65000, r.Uint16);
        Assert.Equal(4_000_000_000u, r.Uint32);
        Assert.Equal(ulong.MaxValue - 1, r.Uint64);
        Assert.Equal(1.25f, r.Float32);
        Assert.Equal(-2.5e-200, r.Float64);
        Assert.Equal("héllo", r.Text.ToString());
        Assert.Equal(new byte[] { 9, 8, 7 }, r.Data.ToArray());
        Assert.Equal(Color.Blue, r.Color);
        Assert.Equal(5, r.Inner.A);
        Assert.Equal("in", r.Inner.B.ToString());
        Assert.Equal(new short[] { -1, 2 }, r.Inner.More.ToArray());
    }

    [Fact]
    public void DefaultsReadFromAnEmptyStructEqualTheSchemaDefaults()
    {
        using var b = new MessageBuilder();
        b.InitRoot(0, 0);
        using MessageReader m = RoundTrip(b);
        Defaults.Reader d = m.GetRoot<Defaults.Reader>();
        Assert.True(d.Bool);
        Assert.Equal(-8, d.Int8);
        Assert.Equal(-1600, d.Int16);
        Assert.Equal(-320000, d.Int32);
        Assert.Equal(-6400000000, d.Int64);
        Assert.Equal(200, d.Uint8);
        Assert.Equal(60000, d.Uint16);
        Assert.Equal(4000000000u, d.Uint32);
        Assert.Equal(18000000000000000000ul, d.Uint64);
        Assert.Equal(3.5f, d.Float32);
        Assert.Equal(-1.25e100, d.Float64);
        Assert.Equal("default text", d.Text.ToString());
        Assert.Equal(new byte[] { 1, 2, 0xFF }, d.Data.ToArray());
        Assert.Equal(Color.Blue, d.Color);
        Assert.Equal(1, d.Inner.A);
        Assert.Equal("x", d.Inner.B.ToString());
        Assert.Equal(new short[] { 4, 5 }, d.Inner.More.ToArray());
        Assert.Equal(new[] { 1, 2, 3 }, d.Ints.ToArray());
        Assert.Equal(new[] { "a", "bc" }, d.Texts.ToStrings());
        Assert.Equal(7, d.Structs[0].A);
        Assert.Equal("y", d.Structs[1].B.ToString());
        Assert.Equal(new[] { true, false, true }, new[] { d.Bools[0], d.Bools[1], d.Bools[2] });
        Assert.Equal(new[] { 9 }, d.NestedDefault.Inner.More.ToArray().Select(x => (int)x));
        Assert.Equal(new[] { 2, 3 }, d.NestedDefault.List[1].ToArray());
        Assert.True(double.IsNaN(d.FloatNan));
        Assert.True(float.IsPositiveInfinity(d.FloatInf));
        Assert.True(double.IsNegative(d.NegZero) && d.NegZero == 0);
    }

    [Fact]
    public void SettingAFieldToItsDefaultWritesZeroBits()
    {
        using var b = new MessageBuilder();
        Defaults.Builder d = b.InitRoot<Defaults.Builder>();
        d.Int32 = -320000;
        d.Float32 = 3.5f;
        d.Bool = true;
        d.Color = Color.Blue;
        d.Uint64 = 18000000000000000000ul;
        Assert.True(b.AsReader().GetRoot().DataSection.IndexOfAnyExcept((byte)0) < 0);
        d.Int32 = 0;
        Assert.Equal(0, d.Int32);
        Assert.False(b.AsReader().GetRoot().DataSection.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void BuilderGetterOfAStructWithADefaultCopiesTheDefaultIn()
    {
        using var b = new MessageBuilder();
        Defaults.Builder d = b.InitRoot<Defaults.Builder>();
        Inner.Builder inner = d.Inner;
        Assert.Equal(1, inner.A);
        inner.A = 2;
        using MessageReader m = RoundTrip(b);
        Assert.Equal(2, m.GetRoot<Defaults.Reader>().Inner.A);
        Assert.Equal("x", m.GetRoot<Defaults.Reader>().Inner.B.ToString());
    }

    [Fact]
    public void UnionsReportTheMemberLastSetIncludingGroupsAndNestedUnions()
    {
        using var b = new MessageBuilder();
        Shape.Builder s = b.InitRoot<Shape.Builder>();
        s.SetName("shape");
        s.Circle = 2.5;
        Assert.Equal(Shape.Which.Circle, s.Which);
        Shape.Polygon.Builder p = s.InitPolygon();
        Assert.Equal(Shape.Which.Polygon, s.Which);
        Assert.Equal(0, p.Sides); // the union's old value does not leak into the group
        p.Sides = 6;
        Shape.Polygon.Style.Dashed.Builder dashed = p.Style.InitDashed();
        dashed.Gap = 3;
        s.Tag.SetLabel("lbl");
        Shape.Position.Builder position = s.Position;
        position.X = -4;

        using MessageReader m = RoundTrip(b);
        Shape.Reader r = m.GetRoot<Shape.Reader>();
        Assert.Equal("shape", r.Name.ToString());
        Assert.Equal(Shape.Which.Polygon, r.Which);
        Assert.Equal(6, r.Polygon.Sides);
        Assert.Equal(Shape.Polygon.Style.Which.Dashed, r.Polygon.Style.Which);
        Assert.Equal(3, r.Polygon.Style.Dashed.Gap);
        Assert.Equal(Shape.Tag.Which.Label, r.Tag.Which);
        Assert.Equal("lbl", r.Tag.Label.ToString());
        Assert.Equal(-4, r.Position.X);
    }

    [Fact]
    public void GenericFieldsAreAnyPointers()
    {
        using var b = new MessageBuilder();
        UsesGenerics.Builder g = b.InitRoot<UsesGenerics.Builder>();
        g.TextBox.Value.SetText("boxed");
        g.InnerBox.Value.InitStruct<Inner.Builder>().A = 9;
        using MessageReader m = RoundTrip(b);
        UsesGenerics.Reader r = m.GetRoot<UsesGenerics.Reader>();
        Assert.Equal("boxed", r.TextBox.Value.GetText().ToString());
        Assert.Equal(9, r.InnerBox.Value.GetStruct<Inner.Reader>().A);
    }

    [Fact]
    public void NamesThatCollideWithKeywordsOrGeneratedMembersGetDistinctNames()
    {
        using var b = new MessageBuilder();
        Keywords.Builder k = b.InitRoot<Keywords.Builder>();
        k.Class = 1;
        k.SetNamespace("ns");
        k.Reader_ = 2;
        k.Equals_ = 3;
        k.Which_ = 4;
        Assert.Equal(Keywords.Which.Which, k.Which);
        k.SetStruct("s");
        Assert.Equal(Keywords.Which.Struct, k.Which);
        using MessageReader m = RoundTrip(b);
        Keywords.Reader r = m.GetRoot<Keywords.Reader>();
        Assert.Equal(1, r.Class);
        Assert.Equal("ns", r.Namespace.ToString());
        Assert.Equal(2, r.Reader_);
        Assert.Equal(3, r.Equals_);
        Assert.Equal("s", r.Struct.ToString());
    }

    [Fact]
    public void ConstantsHaveTheirSchemaValues()
    {
        Assert.Equal(42, TestCapnp.Answer);
        Assert.Equal(ulong.MaxValue, TestCapnp.BigUnsigned);
        Assert.Equal("hello, wetware", TestCapnp.Greeting);
        Assert.Equal(new byte[] { 0xde, 0xad, 0xbe, 0xef }, TestCapnp.Blob.ToArray());
        Assert.Equal(Color.Green, TestCapnp.Favorite);
        Assert.Equal("origin", TestCapnp.Origin.B.ToString());
        Assert.Equal(new short[] { 1, 1, 2, 3, 5 }, TestCapnp.Origin.More.ToArray());
        Assert.Equal(new ushort[] { 2, 3, 5, 7, 11, 13 }, TestCapnp.Primes.ToArray());
        Assert.Equal(new[] { "alpha", "beta" }, TestCapnp.Words.ToStrings());
        Assert.Equal(-3, WithConstants.Scoped);
        Assert.Equal("inside", WithConstants.ScopedText);
    }

    [Fact]
    public void InterfaceAndMethodIdsMatchTheSchema()
    {
        Assert.Equal(0, Calculator.Methods.Evaluate);
        Assert.Equal(3, Calculator.Methods.Plain);
        using var b = new MessageBuilder();
        Calculator.EvaluateParams.Builder p = b.InitRoot<Calculator.EvaluateParams.Builder>();
        p.SetExpression("1+1");
        Assert.Equal("1+1", p.AsReader().Expression.ToString());
        // Type ids are the compiler's, as `capnp compile -ocapnp` prints them.
        string printed = System.Text.Encoding.UTF8.GetString(Capnp([], "compile", "-ocapnp", $"--import-path={Path.Combine(CapnpTool.RepoRoot, "schema")}", Path.Combine(CapnpTool.RepoRoot, "schema/system.capnp")));
        Assert.Contains($"interface Host @0x{Wetware.Schema.Host.TypeId:x}", printed);
        Assert.Contains($"struct PeerInfo @0x{Wetware.Schema.PeerInfo.TypeId:x}", printed);
    }

    [Fact]
    public void MessageWrittenByTheToolReadsThroughGeneratedReaders()
    {
        string root = CapnpTool.RepoRoot;
        byte[] binary = Capnp(File.ReadAllBytes(Path.Combine(root, "tests/conformance/lists-all.txt")),
            "convert", $"--import-path={Path.Combine(root, "schema")}", "text:binary", Path.Combine(root, "tests/schemas/test.capnp"), "Lists");
        using MessageReader m = Framing.Read(binary);
        Lists.Reader l = m.GetRoot<Lists.Reader>();
        Assert.Equal(3, l.Voids.Count);
        Assert.Equal(10, l.Bools.Count);
        Assert.True(l.Bools[8]);
        Assert.Equal(new sbyte[] { -1, 2, -3 }, l.Int8s.ToArray());
        Assert.Equal(new[] { "a", "", "ccc" }, l.Texts.ToStrings());
        Assert.Equal("three", l.Structs[2].B.ToString());
        Assert.Equal(new[] { Color.Red, Color.Blue, Color.Green }, new[] { l.Enums[0], l.Enums[1], l.Enums[2] });
        Assert.Equal(new[] { 3 }, l.IntLists[2].ToArray());
        Assert.Equal(new[] { "b", "c" }, l.TextLists[1].ToStrings());
        Assert.Equal(new sbyte[] { 2, 3 }, l.Deep[0][1].ToArray());
        Assert.Equal("q", l.StructLists[2][0].B.ToString());
        Assert.Equal(3, l.EmptyStructs.Count);
        Assert.True(float.IsPositiveInfinity(l.Float32s[2]));
    }

    [Fact]
    public void GeneratedSchemaReadersReadARealCodeGeneratorRequest()
    {
        byte[] request = Capnp([], "compile", "-o-", "/usr/include/capnp/rpc.capnp");
        using MessageReader m = Framing.Read(request);
        global::Capnp.Schema.CodeGeneratorRequest.Reader r = m.GetRoot<global::Capnp.Schema.CodeGeneratorRequest.Reader>();
        var names = new List<string>();
        foreach (global::Capnp.Schema.Node.Reader node in r.Nodes)
        {
            names.Add(node.DisplayName.ToString());
        }
        Assert.Contains("usr/include/capnp/rpc.capnp:Message", names);
        Assert.Contains("usr/include/capnp/rpc.capnp:Return", names);
        Assert.Equal("usr/include/capnp/rpc.capnp", r.RequestedFiles[0].Filename.ToString());
        global::Capnp.Schema.Node.Reader message = default;
        foreach (global::Capnp.Schema.Node.Reader node in r.Nodes)
        {
            if (node.DisplayName.ToString().EndsWith(":Message", StringComparison.Ordinal))
            {
                message = node;
            }
        }
        Assert.Equal(global::Capnp.Schema.Node.Which.Struct, message.Which);
        Assert.True(message.Struct.DiscriminantCount > 10);
    }

    private static byte[] Capnp(byte[] stdin, params string[] args) => CapnpTool.Run(stdin, args);
}
