using Wetware.Capnp.Tests.Infrastructure;

namespace Wetware.Capnp.Tests.Conformance;

/// <summary>
/// Our encoding against the official implementation, message by message: the fixtures in
/// tests/conformance are Cap'n Proto text; Debian's <c>capnp convert</c> turns them into
/// binary, packed and canonical bytes, which we must read to the same value, and what we
/// write must decode (by the tool) to the same text. Canonical bytes must be identical.
/// </summary>
public class ToolConformanceTests
{
    private static string Schema => Path.Combine(CapnpTool.RepoRoot, "tests", "schemas", "test.capnp");

    public static TheoryData<string, string> Fixtures()
    {
        var data = new TheoryData<string, string>();
        string dir = Path.Combine(CapnpTool.RepoRoot, "tests", "conformance");
        foreach (string line in File.ReadAllLines(Path.Combine(dir, "manifest.txt")))
        {
            string l = line.Trim();
            if (l.Length == 0 || l.StartsWith('#'))
            {
                continue;
            }
            string[] parts = l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            data.Add(parts[0], parts[1]);
        }
        return data;
    }

    private static byte[] Text(string file) =>
        File.ReadAllBytes(Path.Combine(CapnpTool.RepoRoot, "tests", "conformance", file));

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void BinaryFromTheToolReadsAndOurCopyDecodesToTheSameText(string file, string root)
    {
        byte[] binary = CapnpTool.Convert("text", "binary", Schema, root, Text(file));
        string expected = CapnpTool.ToText("binary", Schema, root, binary);

        using MessageReader theirs = Framing.Read(binary);
        // Copy into tiny segments so our output exercises far pointers too.
        foreach (int segmentWords in new[] { 1024, 1, 3 })
        {
            using var ours = new MessageBuilder(segmentWords);
            theirs.ResetTraversalLimit();
            ours.SetRoot(theirs.GetRoot());
            string actual = CapnpTool.ToText("binary", Schema, root, Framing.ToArray(ours));
            Assert.Equal(expected, actual);
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void OurCanonicalFormIsByteIdenticalToTheTools(string file, string root)
    {
        byte[] binary = CapnpTool.Convert("text", "binary", Schema, root, Text(file));
        byte[] toolCanonical = CapnpTool.Convert("text", "canonical", Schema, root, Text(file));

        using MessageReader theirs = Framing.Read(binary);
        byte[] ours = Canonical.Canonicalize(theirs.GetRoot());
        Assert.Equal(Convert.ToHexString(toolCanonical), Convert.ToHexString(ours));

        using var canonicalReader = new MessageReader(toolCanonical);
        Assert.True(Canonical.IsCanonical(canonicalReader));
        Assert.Equal(Dump.Of(theirs.Root), Dump.Of(canonicalReader.Root));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ToolsBinaryIsNotCanonicalOnlyWhenItsLayoutDiffers(string file, string root)
    {
        byte[] binary = CapnpTool.Convert("text", "binary", Schema, root, Text(file));
        using MessageReader theirs = Framing.Read(binary);
        byte[] canonical = Canonical.Canonicalize(theirs.GetRoot());
        bool sameBytes = theirs.SegmentCount == 1 && theirs.GetSegment(0).Span.SequenceEqual(canonical);
        Assert.Equal(sameBytes, Canonical.IsCanonical(theirs));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void PackedFromTheToolUnpacksToTheSameValueAndOursIsByteIdentical(string file, string root)
    {
        byte[] binary = CapnpTool.Convert("text", "binary", Schema, root, Text(file));
        byte[] toolPacked = CapnpTool.Convert("text", "packed", Schema, root, Text(file));
        using MessageReader theirs = Framing.Read(binary);
        using MessageReader unpacked = PackedFraming.Read(toolPacked);
        Assert.Equal(Dump.Of(theirs), Dump.Of(unpacked));

        using var ours = new MessageBuilder();
        ours.SetRoot(theirs.GetRoot());
        Assert.Equal(Convert.ToHexString(toolPacked), Convert.ToHexString(PackedFraming.ToArray(ours)));
        Assert.Equal(CapnpTool.ToText("binary", Schema, root, binary), CapnpTool.ToText("packed", Schema, root, PackedFraming.ToArray(ours)));
    }
}
