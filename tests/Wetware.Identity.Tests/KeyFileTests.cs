using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;
using SimpleBase;

namespace Wetware.Identity.Tests;

/// <summary>Key files (identity.md, "Keys"): base58btc or hex, validation, errors that never show the secret, modes.</summary>
[UnsupportedOSPlatform("windows")] // file modes are the point of several tests here
public sealed class KeyFileTests : IDisposable
{
    private const string VectorPeerId = "16Uiu2HAmEWQnHq2jLKJypwVnVoQeFCULuyop6atvq2eWjYSUjzNi";
    private static readonly string OnesHex = string.Concat(Enumerable.Repeat("01", 32));

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> GoodContents()
    {
        string base58 = Base58.Bitcoin.Encode(Enumerable.Repeat((byte)0x01, 32).ToArray());
        return new TheoryData<string>
        {
            base58,
            base58 + "\n",
            "  \t" + base58 + " \r\n\n",
            OnesHex,
            "0x" + OnesHex,
            "0X" + OnesHex,
            OnesHex.ToUpperInvariant() + "\n",
            "\n 0x" + OnesHex + "\t\n",
        };
    }

    [Theory]
    [MemberData(nameof(GoodContents))]
    public void LoadsBase58AndHexWithSurroundingWhitespace(string content)
    {
        string path = Write("key", content);
        using NodeKey key = NodeKey.Load(path);
        Assert.Equal(VectorPeerId, key.PeerId.ToString());
    }

    public static TheoryData<string, string> BadContents()
    {
        string order = Secp256k1Order.Hex;
        string aboveOrder = Convert.ToHexString(Secp256k1Order.ToBytes32(Secp256k1Order.N + 1));
        byte[] thirtyOne = Enumerable.Repeat((byte)0x5a, 31).ToArray();
        byte[] thirtyThree = Enumerable.Repeat((byte)0x5a, 33).ToArray();
        return new TheoryData<string, string>
        {
            { string.Empty, "is empty" },
            { " \n\t\n", "is empty" },
            { OnesHex + "\n" + OnesHex, "more than one line" },
            { OnesHex[..20] + " " + OnesHex[20..], "whitespace inside" },
            { OnesHex[..63], "63 hex digits" },
            { OnesHex + "0", "65 hex digits" },
            { "0x" + OnesHex[..62], "62 hex digits after 0x" },
            { "0x" + OnesHex[..30] + "g" + OnesHex[31..], "not a hex digit after 0x (character 31)" },
            { OnesHex[..10] + "z" + OnesHex[11..], "character 11 is not a hex digit" },
            { "0x", "0 hex digits" },
            { Base58.Bitcoin.Encode(thirtyOne), "to 31 bytes, expected 32" },
            { Base58.Bitcoin.Encode(thirtyThree), "to 33 bytes, expected 32" },
            { "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi0", "character 44 is not in the base58btc" },
            { "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKiO", "character 44 is not in the base58btc" },
            { "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKil", "character 44 is not in the base58btc" },
            { "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi_", "character 44 is not in the base58btc" },
            { new string('0', 64), "the secret is zero" },
            { "0x" + new string('0', 64), "the secret is zero" },
            { new string('1', 32), "the secret is zero" }, // base58btc: 32 leading zero bytes
            { order, "not below the secp256k1 group order" },
            { "0x" + order.ToLowerInvariant(), "not below the secp256k1 group order" },
            { aboveOrder, "not below the secp256k1 group order" },
            { new string('f', 64), "not below the secp256k1 group order" },
            { "clé" + OnesHex, "non-ASCII" },
        };
    }

    [Theory]
    [MemberData(nameof(BadContents))]
    public void RefusesBadContentNamingTheFileAndTheProblemButNeverTheContent(string content, string reason)
    {
        string path = Write("bad-key", content);
        KeyFileException e = Assert.Throws<KeyFileException>(() => NodeKey.Load(path));
        Assert.Equal(path, e.Path);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        AssertShowsNothingOf(content, e.Message);
    }

    [Fact]
    public void RefusesAFileTooLargeToBeAKey()
    {
        string path = Write("big", new string('a', 5000));
        KeyFileException e = Assert.Throws<KeyFileException>(() => NodeKey.Load(path));
        Assert.Contains("too large", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileAndDirectoryAreNamed()
    {
        string missing = _dir.File("nope");
        KeyFileException e = Assert.Throws<KeyFileException>(() => NodeKey.Load(missing));
        Assert.Equal($"key file {missing}: not found", e.Message);
        e = Assert.Throws<KeyFileException>(() => NodeKey.Load(_dir.Path));
        Assert.Contains("is a directory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SaveWritesBase58OnOneLineWithMode0600()
    {
        using NodeKey key = NodeKey.Generate();
        string path = _dir.File("identity");
        key.Save(path);
        Assert.Equal(key.ExportSecretBase58() + "\n", File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var log = new ListLogger();
        using NodeKey loaded = NodeKey.Load(path, log);
        Assert.Equal(key.PeerId, loaded.PeerId);
        Assert.Equal(key.EvmAddress, loaded.EvmAddress);
        Assert.Empty(log.Entries);
        Assert.Equal([Path.GetFileName(path)], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void SaveNeverOverwritesWithoutForce()
    {
        using NodeKey first = NodeKey.Generate();
        using NodeKey second = NodeKey.Generate();
        string path = _dir.File("identity");
        first.Save(path);
        KeyFileException e = Assert.Throws<KeyFileException>(() => second.Save(path));
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        AssertShowsNothingOf(second.ExportSecretBase58(), e.Message);
        using NodeKey still = NodeKey.Load(path);
        Assert.Equal(first.PeerId, still.PeerId);
        Assert.Single(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void SaveWithForceReplacesTheFileAndItsMode()
    {
        using NodeKey first = NodeKey.Generate();
        using NodeKey second = NodeKey.Generate();
        string path = _dir.File("identity");
        first.Save(path);
        File.SetUnixFileMode(path, (UnixFileMode)0b110_100_100); // 0644
        second.Save(path, force: true);
        using NodeKey loaded = NodeKey.Load(path);
        Assert.Equal(second.PeerId, loaded.PeerId);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Single(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void SaveIntoAMissingDirectoryNamesTheFile()
    {
        using NodeKey key = NodeKey.Generate();
        string path = Path.Combine(_dir.Path, "no", "such", "identity");
        KeyFileException e = Assert.Throws<KeyFileException>(() => key.Save(path));
        Assert.Equal(path, e.Path);
        AssertShowsNothingOf(key.ExportSecretBase58(), e.Message);
    }

    [Theory]
    [InlineData(0b110_100_100)] // 0644
    [InlineData(0b110_100_000)] // 0640
    [InlineData(0b110_000_100)] // 0604
    public void AFileReadableByGroupOrOthersLoadsWithAWarning(int mode)
    {
        using NodeKey key = NodeKey.Generate();
        string path = _dir.File("identity");
        key.Save(path);
        File.SetUnixFileMode(path, (UnixFileMode)mode);
        var log = new ListLogger();
        using NodeKey loaded = NodeKey.Load(path, log);
        Assert.Equal(key.PeerId, loaded.PeerId);
        (LogLevel level, string message) = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains(path, message, StringComparison.Ordinal);
        Assert.Contains("readable by group or others", message, StringComparison.Ordinal);
        Assert.Contains(Convert.ToString(mode, 8), message, StringComparison.Ordinal);
        AssertShowsNothingOf(key.ExportSecretBase58(), message);
    }

    [Fact]
    public void AnOwnerOnlyFileLoadsWithoutWarning()
    {
        string path = Write("identity", "0x" + OnesHex);
        File.SetUnixFileMode(path, UnixFileMode.UserRead);
        var log = new ListLogger();
        using NodeKey key = NodeKey.Load(path, log);
        Assert.Empty(log.Entries);
    }

    [Fact]
    public void SecretRoundTripsThroughBase58IncludingLeadingZeroBytes()
    {
        var secret = new byte[32];
        secret[2] = 0x7f;
        secret[31] = 0x01;
        using NodeKey key = NodeKey.FromSecret(secret);
        string base58 = key.ExportSecretBase58();
        Assert.StartsWith("11", base58, StringComparison.Ordinal);
        Assert.Equal(secret, Base58.Bitcoin.Decode(base58));
        string path = _dir.File("identity");
        key.Save(path);
        using NodeKey loaded = NodeKey.Load(path);
        Assert.Equal(key.PeerId, loaded.PeerId);
    }

    private string Write(string name, string content)
    {
        string path = _dir.File(name);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>No run of 8 characters of the secret text appears in what is shown.</summary>
    private static void AssertShowsNothingOf(string secretText, string shown)
    {
        string trimmed = secretText.Trim();
        for (int i = 0; i + 8 <= trimmed.Length; i++)
        {
            Assert.DoesNotContain(trimmed.Substring(i, 8), shown, StringComparison.Ordinal);
        }
    }
}
