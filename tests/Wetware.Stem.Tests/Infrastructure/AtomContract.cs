using Nethereum.Contracts;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;

namespace Wetware.Stem.Tests;

/// <summary>The compiled Atom (contracts/Atom.sol, compiled into the output's contracts/ by the build) and calls on it.</summary>
public static class AtomContract
{
    public static string ArtifactsDirectory => Path.Combine(AppContext.BaseDirectory, "contracts");

    public static string Bytecode => File.ReadAllText(Path.Combine(ArtifactsDirectory, "Atom.bin")).Trim();

    public static string AbiJson => File.ReadAllText(Path.Combine(ArtifactsDirectory, "Atom.abi.json"));

    public static async Task<(string Address, TransactionReceipt Receipt)> DeployAsync(Web3 web3, byte[] initialCid)
    {
        TransactionReceipt receipt = await web3.Eth.GetContractDeploymentHandler<AtomDeployment>()
            .SendRequestAndWaitForReceiptAsync(new AtomDeployment(Bytecode) { InitialCid = initialCid })
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, (int)receipt.Status.Value);
        return (receipt.ContractAddress, receipt);
    }

    public static async Task<TransactionReceipt> SetHeadAsync(Web3 web3, string contract, byte[] cid)
    {
        TransactionReceipt receipt = await web3.Eth.GetContractTransactionHandler<AtomSetHeadFunction>()
            .SendRequestAndWaitForReceiptAsync(contract, new AtomSetHeadFunction { NewCid = cid })
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, (int)receipt.Status.Value);
        return receipt;
    }

    /// <summary>Sends setHead without waiting for a receipt (for blocks that hold several, or when mining is off).</summary>
    public static Task<string> SendSetHeadAsync(Web3 web3, string contract, byte[] cid) =>
        web3.Eth.GetContractTransactionHandler<AtomSetHeadFunction>()
            .SendRequestAsync(contract, new AtomSetHeadFunction { NewCid = cid, Gas = 200_000 })
            .WaitAsync(TimeSpan.FromSeconds(30));

    public static Task<AtomHeadOutput> HeadAsync(Web3 web3, string contract, BlockParameter? block = null) =>
        web3.Eth.GetContractQueryHandler<AtomHeadFunction>()
            .QueryDeserializingToObjectAsync<AtomHeadOutput>(new AtomHeadFunction(), contract, block ?? BlockParameter.CreateLatest())
            .WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>A CIDv1-shaped head that differs for each <paramref name="n"/> (raw codec, sha2-256 of the number).</summary>
    public static byte[] Cid(int n)
    {
        byte[] digest = System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(n));
        return [0x01, 0x55, 0x12, 0x20, .. digest];
    }
}
