using Wetware.Capnp.Tests.Infrastructure;

namespace Wetware.GuestSdk.Tests;

/// <summary>
/// The C readers and builders capnpc-c generates (tests/schemas/test.capnp), against messages the official
/// tool makes from the conformance fixtures (tests/conformance): the codec guest reads each one with the typed
/// accessors and builds a copy with the typed builders; the tool must decode the copy to the same text.
/// </summary>
public sealed class CodecTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    private static string Schema => Path.Combine(Sdk.RepositoryRoot, "tests/schemas/test.capnp");

    /// <summary>Every fixture of the manifest (file, root).</summary>
    public static TheoryData<string, string> Fixtures
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string line in File.ReadAllLines(Path.Combine(Sdk.RepositoryRoot, "tests/conformance/manifest.txt")))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && !parts[0].StartsWith('#'))
                {
                    data.Add(parts[0], parts[1]);
                }
            }
            return data;
        }
    }

    private static byte[] Binary(string file, string root) =>
        CapnpTool.Convert("text", "binary", Schema, root, File.ReadAllBytes(Path.Combine(Sdk.RepositoryRoot, "tests/conformance", file)));

    private async Task<GuestResult> CodecAsync(byte[] stdin, params string[] args)
    {
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "codec", args, connect: false, stdin: stdin);
        return await g.CompletionAsync();
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task EveryFixtureRoundTripsThroughTheTypedAccessors(string file, string root)
    {
        byte[] message = Binary(file, root);
        GuestResult r = await CodecAsync(message, "copy", root);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(CapnpTool.ToText("binary", Schema, root, message), CapnpTool.ToText("binary", Schema, root, r.StdoutBytes));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task DeepCopiesIntoSmallSegmentsWriteFarPointersThatReadTheSame(string file, string root)
    {
        byte[] message = Binary(file, root);
        GuestResult r = await CodecAsync(message, "deep", root);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(CapnpTool.ToText("binary", Schema, root, message), CapnpTool.ToText("binary", Schema, root, r.StdoutBytes));
        Assert.Contains("segments=", r.Stderr);
    }

    [Fact]
    public async Task MultiSegmentMessagesFromTheToolRead()
    {
        byte[] message = CapnpTool.Run(File.ReadAllBytes(Path.Combine(Sdk.RepositoryRoot, "tests/conformance/lists-all.txt")),
            "convert", $"--import-path={Path.Combine(Sdk.RepositoryRoot, "schema")}", "text:binary", "--segment-size=3", Schema, "Lists");
        Assert.True(BitConverter.ToUInt32(message, 0) > 0, "the tool wrote one segment");
        GuestResult r = await CodecAsync(message, "copy", "Lists");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(CapnpTool.ToText("binary", Schema, "Lists", message), CapnpTool.ToText("binary", Schema, "Lists", r.StdoutBytes));
    }

    [Fact]
    public async Task AnEmptyMessageReadsAsTheSchemaDefaults()
    {
        GuestResult r = await CodecAsync(Binary("defaults-empty.txt", "Defaults"), "defaults");

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        var expected = new Dictionary<string, string>
        {
            ["bool"] = "1",
            ["int8"] = "-8",
            ["int16"] = "-1600",
            ["int32"] = "-320000",
            ["int64"] = "-6400000000",
            ["uint8"] = "200",
            ["uint16"] = "60000",
            ["uint32"] = "4000000000",
            ["uint64"] = "18000000000000000000",
            ["float32"] = "3.5",
            ["float64"] = "-1.25e+100",
            ["text"] = "default text",
            ["data"] = "0102ff",
            ["color"] = "2",
            ["inner.a"] = "1",
            ["inner.b"] = "x",
            ["inner.more"] = "[4,5]",
            ["ints"] = "[1,2,3]",
            ["texts"] = "[a,bc]",
            ["structs[0]"] = "7,",
            ["structs[1]"] = "0,y",
            ["bools"] = "[1,0,1]",
            ["nestedDefault.inner.more"] = "[9]",
            ["nestedDefault.list[0]"] = "[1]",
            ["nestedDefault.list[1]"] = "[2,3]",
            ["floatNan"] = "nan",
            ["floatInf"] = "inf",
            ["negZero"] = "-0",
            ["enums"] = "[1,2]",
            ["floats"] = "[0.5,-1]",
            ["datas[0]"] = "6162",
            ["datas[1]"] = "00ff",
            ["textLists[0]"] = "[p]",
            ["textLists[1]"] = "[]",
            ["textLists[2]"] = "[q,r]",
            ["uint64s"] = "[0,18446744073709551615]",
        };
        foreach (var (name, value) in expected)
        {
            Assert.True(v.TryGetValue(name, out string? got) && got == value, $"{name}: expected {value}, got {got ?? "nothing"}\n{r}");
        }
    }

    [Fact]
    public async Task ConstantsAreWhatTheSchemaSays()
    {
        GuestResult r = await CodecAsync([], "constants");

        Assert.True(r.ExitCode == 0, r.ToString());
        Dictionary<string, string> v = r.Values();
        Assert.Equal("42", v["answer"]);
        Assert.Equal("18446744073709551615", v["bigUnsigned"]);
        Assert.Equal("3.141592653589793", v["pi"]);
        Assert.Equal("hello, wetware", v["greeting"]);
        Assert.Equal("deadbeef", v["blob"]);
        Assert.Equal("1", v["favorite"]);
        Assert.Equal("-1,origin", v["origin"]);
        Assert.Equal("[1,1,2,3,5]", v["origin.more"]);
        Assert.Equal("[2,3,5,7,11,13]", v["primes"]);
        Assert.Equal("[alpha,beta]", v["words"]);
        Assert.Equal("-9223372036854775808", v["minInt64"]);
        Assert.Equal("2,two", v["inners"]);
        Assert.Equal("[0,1]", v["matrix[1]"]);
        Assert.Equal("unit,2,1,c", v["shapeConst"]);
        Assert.Equal("42", v["answerRef"]);
        Assert.Equal("-3,inside", v["scoped"]);
        Assert.Equal("42", v["value"]);
    }

    [Theory]
    [InlineData("lists-all.txt", "Lists")]
    [InlineData("tree-children.txt", "Tree")]
    [InlineData("shape-polygon-dashed.txt", "Shape")]
    public async Task MutatedMessagesNeverTrapTheReaders(string file, string root)
    {
        GuestResult r = await CodecAsync(Binary(file, root), "fuzz", root, "3000", "17");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("iterations=3000", r.Stdout);
    }

    /// <summary>
    /// Wasm traps only on accesses outside linear memory; a reader that strays outside a segment but
    /// inside memory would go unnoticed there. The same code built natively with gcc's AddressSanitizer
    /// and UndefinedBehaviorSanitizer turns any such access into a failure.
    /// </summary>
    [Fact]
    public void TheReadersAndBuildersAreMemorySafeUnderAddressSanitizer()
    {
        string exe = Native.Codec;
        foreach ((string file, string root) in new[] { ("lists-all.txt", "Lists"), ("tree-children.txt", "Tree"), ("shape-polygon-dashed.txt", "Shape"), ("defaults-explicit-pointers.txt", "Defaults"), ("generics.txt", "UsesGenerics") })
        {
            byte[] message = CapnpTool.Run(File.ReadAllBytes(Path.Combine(Sdk.RepositoryRoot, "tests/conformance", file)),
                "convert", $"--import-path={Path.Combine(Sdk.RepositoryRoot, "schema")}", "text:binary", "--segment-size=5", Schema, root);
            (int code, string output) = Native.Run(exe, ["copy", root], message);
            Assert.True(code == 0, $"{file}: {output}");
            (code, output) = Native.Run(exe, ["fuzz", root, "4000", "29"], message);
            Assert.True(code == 0, $"{file} fuzz: {output}");
        }
    }
}
