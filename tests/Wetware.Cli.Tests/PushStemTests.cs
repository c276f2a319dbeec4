using System.Diagnostics;
using System.Text;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Wetware.Identity;
using Wetware.Ipfs;
using Wetware.Ipfs.Tests;
using Wetware.Stem;

namespace Wetware.Cli.Tests;

/// <summary>
/// <c>ww push --stem</c> against a real anvil with the compiled Atom contract and a real js-ipfs node: the owner's push
/// sets the head and prints the transaction and the new seq; the contract's refusals (NoChange, NotOwner), a chain that
/// does not answer, an address without code and the usage errors are each one clear line; the secret is never shown.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PushStemTests(PushStemTests.Chain chain, IpfsNode node) : IClassFixture<PushStemTests.Chain>, IClassFixture<IpfsNode>, IDisposable
{
    /// <summary>anvil's second dev account, the address of <see cref="Anvil.OtherKey"/>.</summary>
    private const string OtherAddress = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

    private readonly string _scratch = Directory.CreateTempSubdirectory("ww-push-stem-").FullName;

    /// <summary>One anvil for the class; every test deploys its own Atom.</summary>
    public sealed class Chain : IAsyncLifetime
    {
        public Anvil Anvil { get; private set; } = null!;

        public async Task InitializeAsync() => Anvil = await Anvil.StartAsync();

        public async Task DisposeAsync() => await Anvil.DisposeAsync();
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    private Anvil Anvil => chain.Anvil;

    private Web3 Owner => Anvil.Web3For(Anvil.OwnerKey);

    private string KeyFile(string name, string hexKey)
    {
        string path = Path.Combine(_scratch, name);
        File.WriteAllText(path, hexKey + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private string Tree(string name, string content)
    {
        string dir = Path.Combine(_scratch, name);
        Directory.CreateDirectory(Path.Combine(dir, "etc"));
        File.WriteAllText(Path.Combine(dir, "etc", "motd"), content);
        return dir;
    }

    private async Task<(int Code, string Out, string Err)> Ww(string? wwIdentity, params string[] args)
    {
        var output = new MemoryStream();
        var error = new MemoryStream();
        var io = new WwIo(Stream.Null, output, error)
        {
            GetEnvironmentVariable = name => name switch
            {
                "WW_IPFS_URL" => node.ApiUrl.ToString(),
                "WW_IDENTITY" => wwIdentity,
                _ => null,
            },
        };
        int code = await WwCli.RunAsync(args, io).WaitAsync(TimeSpan.FromSeconds(90));
        return (code, Encoding.UTF8.GetString(output.ToArray()), Encoding.UTF8.GetString(error.ToArray()));
    }

    /// <summary>Neither the hex nor the base58btc form of <paramref name="hexKey"/> appears in <paramref name="texts"/>.</summary>
    private static void AssertShowsNoSecret(string hexKey, params string[] texts)
    {
        string hex = hexKey[2..];
        using NodeKey key = NodeKey.FromSecret(Convert.FromHexString(hex));
        string base58 = key.ExportSecretBase58();
        foreach (string text in texts)
        {
            Assert.DoesNotContain(hex, text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(base58, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PushWithStemSetsTheHeadAndPrintsTheTransactionAndTheNewSeq()
    {
        (string contract, _) = await AtomContract.DeployAsync(Owner, AtomContract.Cid(0));
        string ownerKey = KeyFile("owner.key", Anvil.OwnerKey);
        string tree = Tree("first", "first head");

        var (code, output, error) = await Ww(null, "push", tree, "--stem", contract, "--identity", ownerKey, "--rpc-url", Anvil.HttpUrl.ToString());

        Assert.True(code == 0, error);
        Assert.Equal("", error);
        string[] lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Matches("^/ipfs/[1-9A-Za-z]+$", lines[0]);
        Assert.Matches("^tx: 0x[0-9a-f]{64}$", lines[1]);
        Assert.Equal("seq: 1", lines[2]);
        Cid cid = Cid.Parse(lines[0]["/ipfs/".Length..]);
        AtomHeadOutput head = await AtomContract.HeadAsync(Owner, contract);
        Assert.Equal(1UL, head.Seq);
        Assert.Equal(cid.ToArray(), head.Cid);
        TransactionReceipt receipt = await Owner.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(lines[1]["tx: ".Length..]);
        Assert.Equal(1, (int)receipt.Status.Value);
        Assert.Equal(contract, receipt.To, ignoreCase: true);
        AssertShowsNoSecret(Anvil.OwnerKey, output, error);

        // The same tree again: the head is already that CID, the contract refuses, nothing is sent.
        (code, output, error) = await Ww(null, "push", tree, "--stem", contract, "--identity", ownerKey, "--rpc-url", Anvil.HttpUrl.ToString());
        Assert.Equal(1, code);
        Assert.Equal($"/ipfs/{cid}\n", output);
        Assert.Equal($"error: setHead refused (NoChange): the head of the Atom contract {contract} is already /ipfs/{cid}\n", error);
        Assert.Equal(1UL, (await AtomContract.HeadAsync(Owner, contract)).Seq);
        AssertShowsNoSecret(Anvil.OwnerKey, output, error);

        // Another tree, signed by the key WW_IDENTITY names: seq 2.
        (code, output, error) = await Ww(ownerKey, "push", Tree("second", "second head"), "--stem", contract, "--rpc-url", Anvil.HttpUrl.ToString());
        Assert.True(code == 0, error);
        Assert.EndsWith("seq: 2\n", output);
        Assert.Equal(2UL, (await AtomContract.HeadAsync(Owner, contract)).Seq);
    }

    [Fact]
    public async Task PushWithStemFromAKeyThatDoesNotOwnTheContractIsNotOwner()
    {
        (string contract, _) = await AtomContract.DeployAsync(Owner, AtomContract.Cid(0));
        string otherKey = KeyFile("other.key", Anvil.OtherKey);

        var (code, output, error) = await Ww(null, "push", Tree("t", "x"), "--stem", contract, "--identity", otherKey, "--rpc-url", Anvil.HttpUrl.ToString());

        Assert.Equal(1, code);
        Assert.Matches("^/ipfs/[1-9A-Za-z]+\n$", output);
        Assert.StartsWith("error: setHead refused (NotOwner): ", error);
        Assert.Contains(OtherAddress, error, StringComparison.Ordinal);
        Assert.Contains(contract, error, StringComparison.OrdinalIgnoreCase);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Equal(0UL, (await AtomContract.HeadAsync(Owner, contract)).Seq);
        AssertShowsNoSecret(Anvil.OtherKey, output, error);
    }

    [Theory]
    [InlineData("60006000fd", "without revert data")] // revert(0, 0)
    [InlineData("63deadbeef6000526004601cfd", "0xdeadbeef")] // revert(28, 4) after mstore(0, 0xdeadbeef)
    public async Task PushWithStemToAContractThatRevertsOtherwiseSaysSo(string runtime, string said)
    {
        // Not an Atom: a contract whose every call reverts with the given data; constructor = codecopy + return of it.
        int length = runtime.Length / 2;
        string init = $"60{length:x2}600c60003960{length:x2}6000f3" + runtime;
        TransactionReceipt deployed = await Owner.Eth.DeployContract
            .SendRequestAndWaitForReceiptAsync(init, Owner.TransactionManager.Account.Address, new Nethereum.Hex.HexTypes.HexBigInteger(100_000))
            .WaitAsync(TimeSpan.FromSeconds(30));
        string ownerKey = KeyFile("owner.key", Anvil.OwnerKey);

        var (code, output, error) = await Ww(null, "push", Tree("t", "x"), "--stem", deployed.ContractAddress, "--identity", ownerKey, "--rpc-url", Anvil.HttpUrl.ToString());

        Assert.Equal(1, code);
        Assert.Matches("^/ipfs/[1-9A-Za-z]+\n$", output);
        Assert.StartsWith($"error: setHead on {deployed.ContractAddress} reverted ", error);
        Assert.Contains(said, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        AssertShowsNoSecret(Anvil.OwnerKey, output, error);
    }

    [Fact]
    public async Task PushWithStemToAChainThatDoesNotAnswerNamesItsUrlQuickly()
    {
        string ownerKey = KeyFile("owner.key", Anvil.OwnerKey);
        var clock = Stopwatch.StartNew();

        var (code, output, error) = await Ww(null, "push", Tree("t", "x"), "--stem", "0x" + new string('1', 40), "--identity", ownerKey, "--rpc-url", "http://127.0.0.1:1");

        Assert.Equal(1, code);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 15);
        Assert.Matches("^/ipfs/[1-9A-Za-z]+\n$", output);
        Assert.StartsWith("error: cannot reach the chain node at http://127.0.0.1:1/", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        AssertShowsNoSecret(Anvil.OwnerKey, output, error);
    }

    [Fact]
    public async Task PushWithStemToAnAddressWithoutCodeIsAClearError()
    {
        string ownerKey = KeyFile("owner.key", Anvil.OwnerKey);
        string nowhere = "0x" + new string('4', 40);

        var (code, output, error) = await Ww(null, "push", Tree("t", "x"), "--stem", nowhere, "--identity", ownerKey, "--rpc-url", Anvil.HttpUrl.ToString());

        Assert.Equal(1, code);
        Assert.Matches("^/ipfs/[1-9A-Za-z]+\n$", output);
        Assert.StartsWith($"error: no contract at {nowhere} on the chain at {Anvil.HttpUrl}", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        AssertShowsNoSecret(Anvil.OwnerKey, output, error);
    }

    [Fact]
    public async Task PushWithStemWithoutAKeyIsAUsageError()
    {
        var (code, output, error) = await Ww(null, "push", Tree("t", "x"), "--stem", "0x" + new string('1', 40));

        Assert.Equal(2, code);
        Assert.Equal("", output);
        string[] lines = error.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains("--identity", lines[0], StringComparison.Ordinal);
        Assert.Equal("see 'ww push --help'", lines[1]);
    }

    [Theory]
    [InlineData("--stem", "0x123")]
    [InlineData("--stem", "1111111111111111111111111111111111111111")]
    [InlineData("--stem", "0xg111111111111111111111111111111111111111")]
    [InlineData("--rpc-url", "ftp://x")]
    public async Task PushWithABadStemOrRpcUrlIsAUsageError(string option, string value)
    {
        string ownerKey = KeyFile("owner.key", Anvil.OwnerKey);
        string[] stem = option == "--stem" ? [] : ["--stem", "0x" + new string('1', 40)];

        var (code, output, error) = await Ww(null, ["push", Tree("t", "x"), "--identity", ownerKey, .. stem, option, value]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        string[] lines = error.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains(option, lines[0], StringComparison.Ordinal);
        Assert.Equal("see 'ww push --help'", lines[1].Trim());
    }

    [Fact]
    public async Task PushWithRpcUrlButNoStemIsAUsageError()
    {
        var (code, output, error) = await Ww(null, "push", Tree("t", "x"), "--rpc-url", Anvil.HttpUrl.ToString());

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("--rpc-url", error, StringComparison.Ordinal);
        Assert.EndsWith("see 'ww push --help'\n", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PushHelpDescribesStem()
    {
        var (code, output, _) = await Ww(null, "push", "--help");

        Assert.Equal(0, code);
        foreach (string text in new[] { "--stem", "--rpc-url", "--identity", "setHead", "tx: <hash>", "seq: <n>", "http://127.0.0.1:8545" })
        {
            Assert.Contains(text, output, StringComparison.Ordinal);
        }
    }
}
