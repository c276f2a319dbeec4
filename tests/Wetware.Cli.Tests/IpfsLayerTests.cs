using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Wetware.Ipfs;
using Wetware.Ipfs.Tests;

namespace Wetware.Cli.Tests;

/// <summary>
/// <c>ww push</c> and <c>/ipfs/...</c> layers of <c>ww run</c> against a real js-ipfs node (tests/interop/ipfs):
/// an image pushed then booted, IPFS layers under and over local ones, an IPFS file as a mount source, an unknown
/// CID and an unreachable node, the disk cache, and what push refuses or leaves out.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class IpfsLayerTests(BuiltGuests guests, IpfsNode node) : IClassFixture<BuiltGuests>, IClassFixture<IpfsNode>, IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-ipfs-run-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    private string Url => node.ApiUrl.ToString();

    private string Image(string name, string? guest, params (string Path, string Content)[] files)
    {
        string dir = Path.Combine(_scratch, name);
        Directory.CreateDirectory(dir);
        if (guest is not null)
        {
            Directory.CreateDirectory(Path.Combine(dir, "boot"));
            File.Copy(Path.Combine(guests.Tests, guest + ".wasm"), Path.Combine(dir, "boot", "main.wasm"));
        }
        foreach (var (path, content) in files)
        {
            string full = Path.Combine(dir, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }
        return dir;
    }

    private async Task<(int Code, string Out, string Err)> Ww(string stdin, bool terminal, string? cache, TimeSpan? ipfsTimeout, params string[] args)
    {
        var output = new MemoryStream();
        var error = new MemoryStream();
        var io = new WwIo(new MemoryStream(Encoding.UTF8.GetBytes(stdin)), output, error)
        {
            StdinIsTerminal = terminal,
            StdImage = guests.Std,
            CacheDirectory = cache ?? Path.Combine(_scratch, "cache"),
            IpfsTimeout = ipfsTimeout,
            GetEnvironmentVariable = name => name == "WW_IPFS_URL" ? Url : null,
        };
        if (args[0] == "run")
        {
            args = ["run", "--port", "0", .. args[1..]];
        }
        int code = await WwCli.RunAsync(args, io).WaitAsync(TimeSpan.FromSeconds(90));
        return (code, Encoding.UTF8.GetString(output.ToArray()), Encoding.UTF8.GetString(error.ToArray()));
    }

    private Task<(int Code, string Out, string Err)> Ww(params string[] args) => Ww("", false, null, null, args);

    private async Task<string> Push(string dir)
    {
        var (code, output, error) = await Ww("push", dir);
        Assert.True(code == 0, error);
        Assert.Matches("^/ipfs/[1-9A-Za-z]+\n$", output);
        return output.Trim();
    }

    [Fact]
    public async Task APushedImageBootsFromIpfs()
    {
        string cid = await Push(Image("hello", "hello"));
        var (code, output, error) = await Ww("run", "--ipfs-url", Url, cid);
        Assert.True(code == 0, error);
        Assert.Contains("argv[0]=/boot/main.wasm", output);
        Assert.Contains("hello on stderr", error);
    }

    [Fact]
    public async Task IpfsLayersMergePerFileUnderAndOverLocalOnes()
    {
        // Under: the IPFS image's boot/main.wasm (hello) is replaced by the local layer's (exit3); its files stay.
        string ipfsImage = await Push(Image("ipfs", "hello", ("etc/from-ipfs", "i"), ("etc/both", "ipfs")));
        var (code, _, error) = await Ww("run", ipfsImage, Image("local-exit3", "exit3"));
        Assert.True(code == 3, error);
        // Over: the local layer's boot (exit3) is replaced by the IPFS one (hello).
        (code, var output, error) = await Ww("run", Image("local-exit3b", "exit3"), ipfsImage);
        Assert.True(code == 0, error);
        Assert.Contains("argv[0]=/boot/main.wasm", output);

        // The standard kernel pushed to IPFS, with a local layer over it and an IPFS layer over that: /etc is the union.
        string std = await Push(guests.Std);
        string local = Image("local-etc", null, ("etc/from-local", "l"), ("etc/both", "local"));
        string top = await Push(Image("ipfs-top", null, ("etc/from-top", "t")));
        (code, output, error) = await Ww("(ls \"/etc\")\n(ls \"/boot\")\n", true, null, null, "run", std, local, top);
        Assert.True(code == 0, error);
        Assert.Contains("from-local\n", output);
        Assert.Contains("from-top\n", output);
        Assert.Contains("main.wasm\n", output);
    }

    [Fact]
    public async Task AnIpfsFileIsAMountSource()
    {
        string tree = await Push(Image("mounted", "hello"));
        // A file under a CID, and a file's own CID, both as sources.
        var (code, output, error) = await Ww("run", Image("empty", null, ("etc/motd", "hi")), $"{tree}/boot/main.wasm:/boot/main.wasm");
        Assert.True(code == 0, error);
        Assert.Contains("argv[0]=/boot/main.wasm", output);

        using IpfsClient client = node.Client();
        Cid file = await client.AddAsync(await File.ReadAllBytesAsync(Path.Combine(guests.Tests, "exit3.wasm")));
        (code, _, error) = await Ww("run", Image("empty2", null, ("etc/motd", "hi")), $"/ipfs/{file}:/boot/main.wasm");
        Assert.True(code == 3, error);
    }

    [Fact]
    public async Task AnUnknownCidFailsClearlyWithinTheTimeout()
    {
        byte[] multihash = [0x12, 0x20, .. RandomNumberGenerator.GetBytes(32)];
        string missing = "/ipfs/" + Cid.V1(Cid.DagPb, multihash);
        var clock = Stopwatch.StartNew();
        var (code, _, error) = await Ww("", false, null, TimeSpan.FromSeconds(3), "run", missing);
        Assert.Equal(1, code);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 30);
        Assert.StartsWith($"error: layer '{missing}': ", error);
        Assert.Contains(node.ApiUrl.ToString().TrimEnd('/'), error);
    }

    [Fact]
    public async Task AnUnreachableNodeIsAnErrorNamingItsUrl()
    {
        var (code, _, error) = await Ww("run", "--ipfs-url", "http://127.0.0.1:1", "/ipfs/QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("http://127.0.0.1:1", error);

        (code, _, error) = await Ww("push", "--ipfs-url", "http://127.0.0.1:1", Image("p", "hello"));
        Assert.Equal(1, code);
        Assert.Contains("http://127.0.0.1:1", error);
    }

    [Fact]
    public async Task ASecondRunReadsFilesFromTheDiskCache()
    {
        string cache = Path.Combine(_scratch, "own-cache");
        string cid = await Push(Image("cached", "hello", ("etc/unread", "never opened")));
        var (code, _, error) = await Ww("", false, cache, null, "run", cid);
        Assert.True(code == 0, error);
        // Only the file the host opened (boot/main.wasm) was fetched, under its CID.
        string[] cached = Directory.GetFiles(Path.Combine(cache, "ipfs"));
        Assert.Single(cached);
        using (IpfsClient client = node.Client())
        {
            IReadOnlyList<IpfsEntry> boot = await client.LsAsync(cid + "/boot");
            Assert.Equal(Path.Combine(cache, "ipfs", boot.Single().Cid.ToString()), cached[0]);
        }
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(guests.Tests, "hello.wasm")), await File.ReadAllBytesAsync(cached[0]));

        // A fetch would replace the entry (temp file + rename); a hit leaves it as it is.
        var old = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(cached[0], old);
        (code, _, error) = await Ww("", false, cache, null, "run", cid);
        Assert.True(code == 0, error);
        Assert.Equal(old, File.GetLastWriteTimeUtc(cached[0]));
        Assert.Single(Directory.GetFiles(Path.Combine(cache, "ipfs")));
    }

    [Fact]
    public async Task PushRefusesTheNodeKeyFile()
    {
        string dir = Image("keyed", "hello", ("etc/identity", "0101010101010101010101010101010101010101010101010101010101010101"));
        var (code, output, error) = await Ww("push", dir);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: 'etc/identity'", error);

        // The key given by --identity, under another name.
        string key = Path.Combine(_scratch, "node.key");
        File.WriteAllText(key, "0202020202020202020202020202020202020202020202020202020202020202\n");
        dir = Image("keyed2", "hello", ("lib/backup.txt", "0x0202020202020202020202020202020202020202020202020202020202020202"));
        (code, _, error) = await Ww("push", "--identity", key, dir);
        Assert.Equal(1, code);
        Assert.StartsWith("error: 'lib/backup.txt'", error);

        // Listed in .wwignore, the key is left out and the push goes on.
        File.WriteAllText(Path.Combine(_scratch, "keyed", ".wwignore"), "etc/identity\n");
        await Push(Path.Combine(_scratch, "keyed"));
    }

    [Fact]
    public async Task PushSkipsWhatWwignoreLists()
    {
        string dir = Image("ignoring", "hello",
            (".wwignore", "# comments and blank lines are skipped\n\n*.log\nbuild/\n/etc/secret\n"),
            ("app.log", "x"), ("lib/deep.log", "x"), ("build/out", "x"), ("etc/secret", "s"), ("etc/motd", "m"));
        string cid = await Push(dir);
        using IpfsClient client = node.Client();
        var top = (await client.LsAsync(cid)).Select(e => e.Name).ToList();
        Assert.Equal([".wwignore", "boot", "etc", "lib"], top);
        Assert.Equal(["motd"], (await client.LsAsync(cid + "/etc")).Select(e => e.Name));
        Assert.Empty(await client.LsAsync(cid + "/lib"));
    }

    [Fact]
    public async Task PushHelpAndStem()
    {
        var (code, output, _) = await Ww("push", "--help");
        Assert.Equal(0, code);
        Assert.Contains(".wwignore", output);
        Assert.Contains("etc/identity", output);
        // --stem signs with the node key: without one it is a usage error, and nothing is pushed (PushStemTests has the rest).
        (code, output, var error) = await Ww("push", "--stem", "0x" + new string('1', 40), Image("s", "hello"));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("--stem", error);
    }
}
