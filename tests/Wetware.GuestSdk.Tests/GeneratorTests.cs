namespace Wetware.GuestSdk.Tests;

/// <summary>capnpc-c on every schema we have: ours, the test schema, and every one Debian ships.</summary>
public sealed class GeneratorTests
{
    [Fact]
    public void EverySchemaGeneratesCThatCompilesWithoutAWarning()
    {
        string output = Path.Combine(Sdk.Directory, "generator-test");
        if (Directory.Exists(output))
        {
            Directory.Delete(output, recursive: true);
        }
        Directory.CreateDirectory(output);
        string root = Sdk.RepositoryRoot;
        string[] debian = [.. Directory.GetFiles("/usr/include/capnp", "*.capnp", SearchOption.AllDirectories)];
        Assert.Contains("/usr/include/capnp/schema.capnp", debian);
        Compile(["compile", "--import-path=/usr/include", "--src-prefix=/usr/include", $"-o{Sdk.Plugin}:{output}", .. debian]);
        Compile(["compile", $"--import-path={root}/schema", $"--src-prefix={root}", $"-o{Sdk.Plugin}:{output}",
            $"{root}/schema/system.capnp", $"{root}/schema/stem.capnp", $"{root}/schema/ipfs.capnp", $"{root}/schema/csharp.capnp",
            $"{root}/tests/schemas/test.capnp", $"{root}/tests/sdk-guests/sdktest.capnp"]);

        string[] sources = Directory.GetFiles(output, "*.capnp.c", SearchOption.AllDirectories);
        Assert.True(sources.Length >= debian.Length + 6, string.Join('\n', sources));
        string include = Path.Combine(root, "guest/sdk/include");
        foreach (string source in sources)
        {
            string dir = Path.GetDirectoryName(source)!;
            (int code, string text) = Native.Run("gcc", ["-std=c11", "-pedantic", "-Wall", "-Wextra", "-Werror", $"-I{include}", $"-I{output}", $"-I{dir}", "-c", source, "-o", "/dev/null"], []);
            Assert.True(code == 0, $"gcc {source}: {text}");
            (code, text) = Native.Run("clang-14", ["--target=wasm32-wasi", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", $"-I{include}", $"-I{output}", $"-I{dir}", "-c", source, "-o", "/dev/null"], []);
            Assert.True(code == 0, $"clang {source}: {text}");
        }
        // Generated names follow the documented scheme.
        string system = File.ReadAllText(Path.Combine(output, "schema/system.capnp.h"));
        Assert.Contains("#define system_Executor_TYPE_ID UINT64_C(0xbfa37c1e99b4a492)", system);
        Assert.Contains("system_Executor_echo = 1,", system);
        Assert.Contains("static inline cp_text system_Executor_echo_Params_get_message(system_Executor_echo_Params r)", system);
        string test = File.ReadAllText(Path.Combine(output, "tests/schemas/test.capnp.h"));
        Assert.Contains("test_Shape_which_rectangle = 2,", test);
        Assert.Contains("static inline test_Shape_Rectangle_builder test_Shape_init_rectangle(test_Shape_builder b)", test);
        Assert.Contains("#define test_greeting \"hello, wetware\"", test);
    }

    private static void Compile(string[] args)
    {
        (int code, string text) = Native.Run("capnp", args, []);
        Assert.True(code == 0, $"capnp {string.Join(' ', args)}: {text}");
    }
}
