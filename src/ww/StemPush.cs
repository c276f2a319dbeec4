using System.Numerics;
using System.Security.Cryptography;
using Nethereum.Contracts;
using Nethereum.Hex.HexTypes;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using Wetware.Identity;
using Wetware.Ipfs;
using Wetware.Stem;

namespace Wetware.Cli;

/// <summary>
/// The <c>--stem</c> step of <c>ww push</c> (cli.md; stem.md, "The Atom contract"): <c>setHead</c> with the pushed
/// CID's binary bytes, signed by the node key, then the new <c>seq</c> from the receipt's HeadUpdated log. Gas is
/// estimated before anything is sent, so a refusal (NotOwner, NoChange) comes back as revert data to decode and
/// costs nothing.
/// </summary>
internal static class StemPush
{
    /// <summary>Deadline of one JSON-RPC call: an endpoint that accepts and never answers fails within it.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a sent transaction may wait to be mined before ww gives up on its receipt (it may still be mined).</summary>
    public static readonly TimeSpan ReceiptTimeout = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan ReceiptPoll = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Sets <paramref name="cid"/> as the head of the Atom contract at <paramref name="contract"/>; writes
    /// <c>tx: 0x...</c> to <paramref name="stdout"/> once the transaction is sent and <c>seq: N</c> once it is mined.
    /// </summary>
    /// <exception cref="StemPushException">Anything that stopped it, in words for the user (never the secret).</exception>
    public static async Task SetHeadAsync(NodeKey key, string contract, Uri rpcUrl, Cid cid, TextWriter stdout, CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = RequestTimeout };
        var rpc = new RpcClient(rpcUrl, http, null, null, null);

        BigInteger chainId;
        string code;
        try
        {
            var reader = new Web3(rpc);
            chainId = (await reader.Eth.ChainId.SendRequestAsync().WaitAsync(stop).ConfigureAwait(false)).Value;
            code = await reader.Eth.GetCode.SendRequestAsync(contract).WaitAsync(stop).ConfigureAwait(false);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            throw Unreachable(rpcUrl, e);
        }
        catch (RpcResponseException e)
        {
            throw new StemPushException($"the chain node at {rpcUrl} refused a read: {e.Message}", e);
        }
        if (string.IsNullOrEmpty(code) || code == "0x")
        {
            throw new StemPushException($"no contract at {contract} on the chain at {rpcUrl} (chain id {chainId}): check --stem and --rpc-url");
        }

        var web3 = new Web3(ToAccount(key, chainId), rpc);
        web3.TransactionManager.UseLegacyAsDefault = false;
        var handler = web3.Eth.GetContractTransactionHandler<AtomSetHeadFunction>();
        var setHead = new AtomSetHeadFunction { NewCid = cid.ToArray() };
        string tx;
        try
        {
            HexBigInteger gas = await handler.EstimateGasAsync(contract, setHead).WaitAsync(stop).ConfigureAwait(false);
            // A margin over the estimate: storing the head costs more when the stored one changed in between.
            setHead.Gas = gas.Value * 6 / 5;
            tx = await handler.SendRequestAsync(contract, setHead).WaitAsync(stop).ConfigureAwait(false);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            throw Unreachable(rpcUrl, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw await RefusedAsync(e, web3, key, contract, cid, stop).ConfigureAwait(false);
        }
        stdout.WriteLine($"tx: {tx}");

        TransactionReceipt receipt = await ReceiptAsync(web3, tx, rpcUrl, stop).ConfigureAwait(false);
        if (receipt.Status?.Value != 1)
        {
            throw new StemPushException($"the setHead transaction {tx} reverted in block {receipt.BlockNumber?.Value} (no revert data in a receipt; the head may have changed since the estimate)");
        }
        EventLog<AtomHeadUpdatedEvent>? updated = receipt.DecodeAllEvents<AtomHeadUpdatedEvent>()
            .FirstOrDefault(e => string.Equals(e.Log.Address, contract, StringComparison.OrdinalIgnoreCase));
        if (updated is null)
        {
            throw new StemPushException($"the setHead transaction {tx} was mined but its receipt has no HeadUpdated event of {contract}");
        }
        stdout.WriteLine($"seq: {updated.Event.Seq}");
    }

    /// <summary>An account for Nethereum from the node key; the secret passes through one buffer that is cleared.</summary>
    private static Account ToAccount(NodeKey key, BigInteger chainId)
    {
        byte[] secret = new byte[32];
        try
        {
            key.WriteSecret(secret);
            return new Account(secret, chainId);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    private static async Task<TransactionReceipt> ReceiptAsync(Web3 web3, string tx, Uri rpcUrl, CancellationToken stop)
    {
        DateTime deadline = DateTime.UtcNow + ReceiptTimeout;
        while (true)
        {
            try
            {
                if (await web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(tx).WaitAsync(stop).ConfigureAwait(false) is { } receipt)
                {
                    return receipt;
                }
            }
            catch (Exception e) when (IsUnreachable(e) || e is RpcResponseException)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw new StemPushException($"the setHead transaction {tx} was sent, but the chain node at {rpcUrl} stopped answering: {Reason(e)}", e);
                }
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new StemPushException($"the setHead transaction {tx} was sent but not mined within {ReceiptTimeout.TotalSeconds:0} s; it may still be");
            }
            await Task.Delay(ReceiptPoll, stop).ConfigureAwait(false);
        }
    }

    /// <summary>Why the estimate or the send failed: the Atom error in the revert data, or what the node said.</summary>
    private static async Task<StemPushException> RefusedAsync(Exception e, Web3 web3, NodeKey key, string contract, Cid cid, CancellationToken stop)
    {
        byte[]? data = AtomAbi.RevertData(e);
        switch (data is null ? null : AtomAbi.DecodeError(data))
        {
            case AtomError.NotOwner:
                string owner = await OwnerAsync(web3, contract, stop).ConfigureAwait(false) is { } o ? $"; its owner is {o}" : "";
                return new StemPushException($"setHead refused (NotOwner): {key.EvmAddress} is not the owner of the Atom contract {contract}{owner}", e);
            case AtomError.NoChange:
                return new StemPushException($"setHead refused (NoChange): the head of the Atom contract {contract} is already /ipfs/{cid}", e);
        }
        if (data is not null)
        {
            return new StemPushException($"setHead on {contract} reverted with data 0x{Convert.ToHexStringLower(data)} (not an Atom error: is {contract} an Atom contract?)", e);
        }
        return IsRevert(e)
            ? new StemPushException($"setHead on {contract} reverted without revert data (not an Atom error: is {contract} an Atom contract?)", e)
            : new StemPushException($"setHead on {contract} failed: {Reason(e)}", e);
    }

    private static async Task<string?> OwnerAsync(Web3 web3, string contract, CancellationToken stop)
    {
        try
        {
            return await web3.Eth.GetContractQueryHandler<AtomOwnerFunction>()
                .QueryAsync<string>(contract, new AtomOwnerFunction()).WaitAsync(stop).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null; // only a detail of the message
        }
    }

    /// <summary>The call reverted (Nethereum's revert exceptions, or a node's "execution reverted" answer).</summary>
    private static bool IsRevert(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is SmartContractCustomErrorRevertException or Nethereum.ABI.FunctionEncoding.SmartContractRevertException
                || (e is RpcResponseException rpc && rpc.Message.Contains("revert", StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Nothing answered at the URL (refused, reset, timed out), as opposed to an answer that is an error.</summary>
    private static bool IsUnreachable(Exception e) =>
        e is RpcClientUnknownException or RpcClientTimeoutException or HttpRequestException
        || (e is TaskCanceledException && e.InnerException is TimeoutException);

    private static StemPushException Unreachable(Uri rpcUrl, Exception e) =>
        new($"cannot reach the chain node at {rpcUrl}: {Reason(e)}", e);

    /// <summary>The message of <paramref name="e"/> and of the innermost cause Nethereum wrapped it around.</summary>
    private static string Reason(Exception e)
    {
        Exception inner = e;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }
        return inner == e || inner.Message.Length == 0 ? e.Message : $"{e.Message}: {inner.Message}";
    }
}

/// <summary>The <c>--stem</c> step of <c>ww push</c> failed; the message says why, for the user.</summary>
internal sealed class StemPushException(string message, Exception? inner = null) : Exception(message, inner);
