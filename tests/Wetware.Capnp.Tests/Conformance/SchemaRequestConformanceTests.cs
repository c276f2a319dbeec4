using Wetware.Capnp.Tests.Infrastructure;

namespace Wetware.Capnp.Tests.Conformance;

/// <summary>
/// Real messages from the official implementation: the CodeGeneratorRequests that
/// <c>capnp compile -o-</c> writes for Debian's own schemas (tens of KiB, every object kind).
/// </summary>
public class SchemaRequestConformanceTests
{
    private const string SchemaCapnp = "/usr/include/capnp/schema.capnp";

    public static TheoryData<string> Schemas() => new()
    {
        "/usr/include/capnp/schema.capnp",
        "/usr/include/capnp/rpc.capnp",
        "/usr/include/capnp/rpc-twoparty.capnp",
        "/usr/include/capnp/persistent.capnp",
        "/usr/include/capnp/compat/json.capnp",
    };

    private static byte[] Request(string schema) => CapnpTool.Run([], "compile", "-o-", schema);

    [Theory]
    [MemberData(nameof(Schemas))]
    public void OurCopyOfARequestDecodesToTheSameTextAsTheOriginal(string schema)
    {
        byte[] original = Request(schema);
        string expected = CapnpTool.ToText("binary", SchemaCapnp, "CodeGeneratorRequest", original);
        using MessageReader theirs = Framing.Read(original);
        foreach (int segmentWords in new[] { 1024, 1, 7 })
        {
            using var ours = new MessageBuilder(segmentWords);
            theirs.ResetTraversalLimit();
            ours.SetRoot(theirs.GetRoot());
            Assert.Equal(expected, CapnpTool.ToText("binary", SchemaCapnp, "CodeGeneratorRequest", Framing.ToArray(ours)));
        }
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public void MultiSegmentMessagesWithFarPointersFromTheToolReadToTheSameValue(string schema)
    {
        byte[] original = Request(schema);
        foreach (string segmentSize in new[] { "1", "3", "16" })
        {
            byte[] split = CapnpTool.Run(original, "convert", "binary:binary", $"--segment-size={segmentSize}");
            using MessageReader a = Framing.Read(original);
            // One-word segments make thousands of segments: above the default limit, so raise it here.
            using MessageReader b = Framing.Read(split, new ReaderOptions { MaxSegments = 1 << 20 });
            Assert.True(b.SegmentCount > 1);
            Assert.Equal(Dump.Of(a), Dump.Of(b));
        }
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public void OurCanonicalFormOfARequestIsByteIdenticalToTheTools(string schema)
    {
        byte[] original = Request(schema);
        byte[] toolCanonical = CapnpTool.Run(original, "convert", "binary:canonical");
        using MessageReader theirs = Framing.Read(original);
        Assert.Equal(Convert.ToHexString(toolCanonical), Convert.ToHexString(Canonical.Canonicalize(theirs.GetRoot())));
        using var reread = new MessageReader(toolCanonical);
        Assert.True(Canonical.IsCanonical(reread));
    }

    [Fact]
    public void FlatFormFromTheToolIsOneSegment()
    {
        byte[] original = Request(SchemaCapnp);
        byte[] flat = CapnpTool.Run(original, "convert", "binary:flat");
        using MessageReader a = Framing.Read(original);
        using var b = new MessageReader(flat);
        Assert.Equal(Dump.Of(a), Dump.Of(b));
    }
}
