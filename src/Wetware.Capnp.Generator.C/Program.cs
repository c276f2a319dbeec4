using Wetware.Capnp;
using Wetware.Capnp.Generator;
using Wetware.Capnp.Generator.C;

// capnp runs a plugin with the CodeGeneratorRequest on stdin and, for `-o<plugin>:<dir>`,
// the output directory as the working directory. Each requested file x.capnp gives
// x.capnp.h and x.capnp.c.
try
{
    using Stream stdin = Console.OpenStandardInput();
    using var buffer = new MemoryStream();
    stdin.CopyTo(buffer);
    var options = new ReaderOptions { TraversalLimitWords = long.MaxValue / 2, NestingLimit = 1024, MaxSegments = 1 << 20, MaxMessageBytes = 1L << 31 };
    using MessageReader message = Framing.Read(buffer.ToArray(), options);
    var request = new RequestReader(message.GetRoot());
    var generator = new CGenerator(request);
    foreach (RequestedFileReader file in request.RequestedFiles)
    {
        string? dir = Path.GetDirectoryName(file.Filename);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        (string header, string source) = generator.Generate(file.Id);
        WriteIfChanged(file.Filename + ".h", header);
        WriteIfChanged(file.Filename + ".c", source);
    }
    return 0;
}
catch (Exception e) when (e is CapnpException or IOException or InvalidOperationException or KeyNotFoundException)
{
    Console.Error.WriteLine($"capnpc-c: {e.Message}");
    return 1;
}

// Leave an unchanged file alone so that make-style builds stay incremental.
static void WriteIfChanged(string path, string text)
{
    if (!File.Exists(path) || File.ReadAllText(path) != text)
    {
        File.WriteAllText(path, text);
    }
}
