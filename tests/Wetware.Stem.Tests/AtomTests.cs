using System.Text.Json;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Util;
using Nethereum.Web3;

namespace Wetware.Stem.Tests;

/// <summary>The Atom contract (contracts/Atom.sol, compiled by solc-js in the build) against a real anvil.</summary>
public sealed class AtomTests : IAsyncLifetime
{
    private Anvil _anvil = null!;

    public async Task InitializeAsync() => _anvil = await Anvil.StartAsync();

    public async Task DisposeAsync() => await _anvil.DisposeAsync();

    [Theory]
    [InlineData("head()", "8f7dcfa3")]
    [InlineData("setHead(bytes)", "43eae823")]
    [InlineData("NotOwner()", "30cd7471")]
    [InlineData("NoChange()", "a88ee577")]
    public void SelectorsMatchTheSpecAndTheCompiledAbi(string signature, string specSelector)
    {
        string computed = Sha3Keccack.Current.CalculateHash(signature)[..8];
        Assert.Equal(specSelector, computed);
        uint constant = signature switch
        {
            "head()" => AtomAbi.HeadSelector,
            "setHead(bytes)" => AtomAbi.SetHeadSelector,
            "NotOwner()" => AtomAbi.NotOwnerSelector,
            _ => AtomAbi.NoChangeSelector,
        };
        Assert.Equal(specSelector, constant.ToString("x8", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(signature, CompiledSignatures());
        if (!signature.StartsWith("No", StringComparison.Ordinal))
        {
            // The dispatcher compares the calldata's first word with each selector (PUSH4 selector).
            Assert.Contains("63" + specSelector, AtomContract.Bytecode, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void HeadUpdatedTopicMatchesTheSpecAndTheCompiledAbi()
    {
        const string spec = "0x85f2cb2e69cdbc779032c9439dbb51c7a51f823b898e6068e18b896e87bd29d0";
        Assert.Equal(spec, "0x" + Sha3Keccack.Current.CalculateHash("HeadUpdated(uint64,address,bytes,bytes32)"));
        Assert.Equal(spec, AtomAbi.HeadUpdatedTopic);
        Assert.Equal(spec, EventExtensions.GetEventABI<AtomHeadUpdatedEvent>().Sha3Signature.EnsureHexPrefix());
        Assert.Contains("HeadUpdated(uint64,address,bytes,bytes32)", CompiledSignatures());
        using JsonDocument abi = JsonDocument.Parse(AtomContract.AbiJson);
        JsonElement e = abi.RootElement.EnumerateArray().Single(x => x.GetProperty("type").GetString() == "event");
        Assert.Equal([true, true, false, true], e.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("indexed").GetBoolean()));
    }

    [Fact]
    public async Task DeployWithAnInitialCidStartsAtSeqZeroWithoutAnEvent()
    {
        Web3 owner = _anvil.Web3For(Anvil.OwnerKey);
        byte[] cid = AtomContract.Cid(0);
        (string address, TransactionReceipt receipt) = await AtomContract.DeployAsync(owner, cid);

        Assert.Empty(receipt.Logs);
        AtomHeadOutput head = await AtomContract.HeadAsync(owner, address);
        Assert.Equal(0UL, head.Seq);
        Assert.Equal(cid, head.Cid);
        Assert.Equal(0UL, await owner.Eth.GetContractQueryHandler<AtomSeqFunction>().QueryAsync<ulong>(address, new AtomSeqFunction()));
        string ownerAddress = await owner.Eth.GetContractQueryHandler<AtomOwnerFunction>().QueryAsync<string>(address, new AtomOwnerFunction());
        Assert.Equal(owner.TransactionManager.Account.Address, ownerAddress, ignoreCase: true);
    }

    [Fact]
    public async Task SetHeadByTheOwnerIncrementsSeqAndEmitsHeadUpdated()
    {
        Web3 owner = _anvil.Web3For(Anvil.OwnerKey);
        (string address, _) = await AtomContract.DeployAsync(owner, AtomContract.Cid(0));

        for (int n = 1; n <= 3; n++)
        {
            byte[] cid = AtomContract.Cid(n);
            TransactionReceipt receipt = await AtomContract.SetHeadAsync(owner, address, cid);

            FilterLog log = Assert.Single(receipt.Logs);
            Assert.Equal(address, log.Address, ignoreCase: true);
            Assert.Equal(4, log.Topics.Length);
            Assert.Equal(AtomAbi.HeadUpdatedTopic, (string)log.Topics[0]);
            Assert.Equal(((ulong)n).ToString("x64", System.Globalization.CultureInfo.InvariantCulture), ((string)log.Topics[1])[2..]);
            Assert.Equal(owner.TransactionManager.Account.Address[2..].ToLowerInvariant().PadLeft(64, '0'), ((string)log.Topics[2])[2..]);
            Assert.Equal(Sha3Keccack.Current.CalculateHash(cid), ((string)log.Topics[3]).HexToByteArray());

            (ulong seq, byte[] direct) = AtomAbi.DecodeHeadUpdated(log); // the indexer's own decoder agrees with Nethereum's
            Assert.Equal((ulong)n, seq);
            Assert.Equal(cid, direct);
            EventLog<AtomHeadUpdatedEvent> decoded = log.DecodeEvent<AtomHeadUpdatedEvent>();
            Assert.Equal((ulong)n, decoded.Event.Seq);
            Assert.Equal(owner.TransactionManager.Account.Address, decoded.Event.Writer, ignoreCase: true);
            Assert.Equal(cid, decoded.Event.Cid);
            Assert.Equal(Sha3Keccack.Current.CalculateHash(cid), decoded.Event.CidHash);

            AtomHeadOutput head = await AtomContract.HeadAsync(owner, address);
            Assert.Equal((ulong)n, head.Seq);
            Assert.Equal(cid, head.Cid);
        }
    }

    [Fact]
    public async Task SetHeadFromAnotherAccountRevertsWithNotOwner()
    {
        Web3 owner = _anvil.Web3For(Anvil.OwnerKey);
        (string address, _) = await AtomContract.DeployAsync(owner, AtomContract.Cid(0));
        Web3 other = _anvil.Web3For(Anvil.OtherKey);

        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => AtomContract.SetHeadAsync(other, address, AtomContract.Cid(1)));

        byte[]? data = AtomAbi.RevertData(e);
        Assert.NotNull(data);
        Assert.Equal("30cd7471", Convert.ToHexStringLower(data));
        Assert.Equal(AtomError.NotOwner, AtomAbi.DecodeError(data));
        Assert.Equal(0UL, (await AtomContract.HeadAsync(owner, address)).Seq);
    }

    [Fact]
    public async Task SetHeadWithTheCurrentHeadRevertsWithNoChange()
    {
        Web3 owner = _anvil.Web3For(Anvil.OwnerKey);
        (string address, _) = await AtomContract.DeployAsync(owner, AtomContract.Cid(0));

        Exception initial = await Assert.ThrowsAnyAsync<Exception>(() => AtomContract.SetHeadAsync(owner, address, AtomContract.Cid(0)));
        Assert.Equal(AtomError.NoChange, AtomAbi.DecodeError(AtomAbi.RevertData(initial)));

        await AtomContract.SetHeadAsync(owner, address, AtomContract.Cid(1));
        Exception again = await Assert.ThrowsAnyAsync<Exception>(() => AtomContract.SetHeadAsync(owner, address, AtomContract.Cid(1)));
        Assert.Equal("a88ee577", Convert.ToHexStringLower(AtomAbi.RevertData(again)!));
        Assert.Equal(AtomError.NoChange, AtomAbi.DecodeError(AtomAbi.RevertData(again)));
        Assert.Equal(1UL, (await AtomContract.HeadAsync(owner, address)).Seq);
    }

    [Fact]
    public void DecodeBytesRejectsMalformedData()
    {
        byte[] good = new byte[96];
        good[31] = 32;
        good[63] = 3;
        good[64] = 0xaa;
        Assert.Equal([0xaa, 0, 0], AtomAbi.DecodeBytes(good));
        byte[] tooLong = (byte[])good.Clone();
        tooLong[63] = 33;
        Assert.Throws<FormatException>(() => AtomAbi.DecodeBytes(tooLong));
        byte[] badOffset = (byte[])good.Clone();
        badOffset[31] = 64;
        Assert.Throws<FormatException>(() => AtomAbi.DecodeBytes(badOffset));
        byte[] huge = (byte[])good.Clone();
        huge[56] = 0x80;
        Assert.Throws<FormatException>(() => AtomAbi.DecodeBytes(huge));
        Assert.Throws<FormatException>(() => AtomAbi.DecodeBytes(good.AsSpan(0, 63)));
        byte[] seq = new byte[32];
        seq[31] = 7;
        Assert.Equal(7UL, AtomAbi.DecodeSeq(seq));
        seq[0] = 1;
        Assert.Throws<FormatException>(() => AtomAbi.DecodeSeq(seq));
    }

    [Fact]
    public void DecodeErrorKnowsOnlyAtomsSelectors()
    {
        Assert.Null(AtomAbi.DecodeError([0x08, 0xc3, 0x79, 0xa0])); // Error(string)
        Assert.Null(AtomAbi.DecodeError([0x30, 0xcd, 0x74]));
        Assert.Equal(AtomError.NotOwner, AtomAbi.DecodeError("0x30cd7471"));
        Assert.Null(AtomAbi.DecodeError((string?)null));
    }

    /// <summary>Signatures (name(types)) of the functions, errors and events in the compiled ABI.</summary>
    private static HashSet<string> CompiledSignatures()
    {
        using JsonDocument abi = JsonDocument.Parse(AtomContract.AbiJson);
        var set = new HashSet<string>();
        foreach (JsonElement item in abi.RootElement.EnumerateArray())
        {
            if (item.TryGetProperty("name", out JsonElement name))
            {
                set.Add($"{name.GetString()}({string.Join(",", item.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("type").GetString()))})");
            }
        }
        return set;
    }
}
