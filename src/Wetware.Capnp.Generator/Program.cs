using Wetware.Capnp;
using Wetware.Capnp.Generator;

// capnp runs a plugin with the CodeGeneratorRequest on stdin and, for
// `-o<plugin>:<dir>`, the output directory as the working directory.
try
{
    using Stream stdin = Console.OpenStandardInput();
    using var buffer = new MemoryStream();
    stdin.CopyTo(buffer);
    var options = new ReaderOptions { TraversalLimitWords = long.MaxValue / 2, NestingLimit = 1024, MaxSegments = 1 << 20, MaxMessageBytes = 1L << 31 };
    using MessageReader message = Framing.Read(buffer.ToArray(), options);
    var request = new RequestReader(message.GetRoot());
    var generator = new Generator(request, new GeneratorOptions(
        Namespace: Environment.GetEnvironmentVariable("CAPNPC_CSHARP_NAMESPACE"),
        Visibility: Environment.GetEnvironmentVariable("CAPNPC_CSHARP_VISIBILITY"),
        SourcePath: Environment.GetEnvironmentVariable("CAPNPC_CSHARP_SOURCE"),
        Rpc: Environment.GetEnvironmentVariable("CAPNPC_CSHARP_RPC")?.Trim().ToLowerInvariant() is "true" or "1"));
    foreach (RequestedFileReader file in request.RequestedFiles)
    {
        string path = file.Filename + ".cs";
        string? dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        string source = generator.Generate(file.Id);
        // Leave an unchanged file alone so incremental builds stay incremental.
        if (!File.Exists(path) || File.ReadAllText(path) != source)
        {
            File.WriteAllText(path, source);
        }
    }
    return 0;
}
catch (Exception e) when (e is CapnpException or IOException or InvalidOperationException or KeyNotFoundException)
{
    Console.Error.WriteLine($"capnpc-csharp: {e.Message}");
    return 1;
}
