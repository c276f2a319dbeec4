using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.RPC.Eth.DTOs;

namespace Wetware.Stem;

/// <summary>
/// The Atom contract's ABI (shared/spec/stem.md, "The Atom contract"): selectors, the event topic, the calls
/// and the event as Nethereum messages, and the decoding of its custom errors from revert data.
/// </summary>
public static class AtomAbi
{
    /// <summary><c>head()</c>.</summary>
    public const uint HeadSelector = 0x8f7dcfa3;

    /// <summary><c>setHead(bytes)</c>.</summary>
    public const uint SetHeadSelector = 0x43eae823;

    /// <summary><c>error NotOwner()</c>.</summary>
    public const uint NotOwnerSelector = 0x30cd7471;

    /// <summary><c>error NoChange()</c>.</summary>
    public const uint NoChangeSelector = 0xa88ee577;

    /// <summary>topic0 of <c>HeadUpdated(uint64 indexed seq, address indexed writer, bytes cid, bytes32 indexed cidHash)</c>.</summary>
    public const string HeadUpdatedTopic = "0x85f2cb2e69cdbc779032c9439dbb51c7a51f823b898e6068e18b896e87bd29d0";

    /// <summary>
    /// The seq (topic 1) and head bytes (the data's one <c>bytes</c>) of a HeadUpdated log, read directly: Nethereum's
    /// generic decoder costs ~0.5 ms a log, which dominates a catch-up over thousands of them.
    /// </summary>
    /// <exception cref="FormatException">The log is not a well-formed HeadUpdated.</exception>
    public static (ulong Seq, byte[] Cid) DecodeHeadUpdated(FilterLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (log.Topics is not { Length: 4 } || !string.Equals(log.Topics[0]?.ToString(), HeadUpdatedTopic, StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("not a HeadUpdated log (topic0 or the number of topics differ)");
        }
        byte[] seqWord = (log.Topics[1]?.ToString() ?? "").HexToByteArray();
        byte[] data = (log.Data ?? "").HexToByteArray();
        return (DecodeSeq(seqWord), DecodeBytes(data));
    }

    /// <summary>A uint64 in a 32-byte big-endian word (its 24 high bytes zero).</summary>
    internal static ulong DecodeSeq(ReadOnlySpan<byte> word)
    {
        if (word.Length != 32 || word[..24].ContainsAnyExcept((byte)0))
        {
            throw new FormatException("the seq topic is not a uint64 word");
        }
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(word[24..]);
    }

    /// <summary>The ABI encoding of one dynamic <c>bytes</c>: offset (32), length, the bytes padded to 32.</summary>
    internal static byte[] DecodeBytes(ReadOnlySpan<byte> data)
    {
        if (data.Length < 64 || data[..31].ContainsAnyExcept((byte)0) || data[31] != 32 || data[32..56].ContainsAnyExcept((byte)0))
        {
            throw new FormatException("the HeadUpdated data is not one ABI-encoded bytes");
        }
        ulong length = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(data[56..64]);
        if (length > (ulong)(data.Length - 64))
        {
            throw new FormatException($"the HeadUpdated data says {length} bytes but holds {data.Length - 64}");
        }
        return data.Slice(64, (int)length).ToArray();
    }

    /// <summary>Names the Atom error that <paramref name="revertData"/> carries (by its 4-byte selector), or null for any other revert.</summary>
    public static AtomError? DecodeError(ReadOnlySpan<byte> revertData)
    {
        if (revertData.Length < 4)
        {
            return null;
        }
        uint selector = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(revertData);
        return selector switch
        {
            NotOwnerSelector => AtomError.NotOwner,
            NoChangeSelector => AtomError.NoChange,
            _ => null,
        };
    }

    /// <summary>
    /// The revert data a failed Nethereum call or transaction carries (a custom error's exception, a revert
    /// exception, or the node's JSON-RPC error data), or null when <paramref name="error"/> carries none.
    /// </summary>
    public static byte[]? RevertData(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            string? hex = e switch
            {
                SmartContractCustomErrorRevertException custom => custom.ExceptionEncodedData,
                Nethereum.ABI.FunctionEncoding.SmartContractRevertException revert => revert.EncodedData,
                Nethereum.JsonRpc.Client.RpcResponseException rpc => rpc.RpcError?.Data?.ToString(),
                _ => null,
            };
            if (!string.IsNullOrEmpty(hex) && hex.StartsWith("0x", StringComparison.Ordinal) && hex.Length >= 10)
            {
                try
                {
                    return hex.HexToByteArray();
                }
                catch (FormatException)
                {
                    // not hex after all: look further in
                }
            }
        }
        return null;
    }

    /// <summary><see cref="DecodeError(ReadOnlySpan{byte})"/> of hex revert data (with or without 0x).</summary>
    public static AtomError? DecodeError(string? revertDataHex) =>
        string.IsNullOrEmpty(revertDataHex) ? null : DecodeError(revertDataHex.HexToByteArray());
}

/// <summary>The Atom contract's custom errors.</summary>
public enum AtomError
{
    /// <summary><c>setHead</c> from an account that is not the owner.</summary>
    NotOwner,

    /// <summary><c>setHead</c> with the head that is already set.</summary>
    NoChange,
}

/// <summary><c>head() view returns (uint64 seq, bytes cid)</c>.</summary>
[Function("head", typeof(AtomHeadOutput))]
public sealed class AtomHeadFunction : FunctionMessage
{
}

/// <summary>What <c>head()</c> returns.</summary>
[FunctionOutput]
public sealed class AtomHeadOutput : IFunctionOutputDTO
{
    [Parameter("uint64", "seq", 1)]
    public ulong Seq { get; set; }

    [Parameter("bytes", "cid", 2)]
    public byte[] Cid { get; set; } = [];
}

/// <summary><c>setHead(bytes newCid)</c>.</summary>
[Function("setHead")]
public sealed class AtomSetHeadFunction : FunctionMessage
{
    [Parameter("bytes", "newCid", 1)]
    public byte[] NewCid { get; set; } = [];
}

/// <summary><c>seq() view returns (uint64)</c>.</summary>
[Function("seq", "uint64")]
public sealed class AtomSeqFunction : FunctionMessage
{
}

/// <summary><c>owner() view returns (address)</c>.</summary>
[Function("owner", "address")]
public sealed class AtomOwnerFunction : FunctionMessage
{
}

/// <summary><c>constructor(bytes initialCid)</c>, with the compiled bytecode.</summary>
public sealed class AtomDeployment : ContractDeploymentMessage
{
    public AtomDeployment()
        : base(string.Empty)
    {
    }

    public AtomDeployment(string byteCode)
        : base(byteCode)
    {
    }

    [Parameter("bytes", "initialCid", 1)]
    public byte[] InitialCid { get; set; } = [];
}

/// <summary><c>HeadUpdated(uint64 indexed seq, address indexed writer, bytes cid, bytes32 indexed cidHash)</c>.</summary>
[Event("HeadUpdated")]
public sealed class AtomHeadUpdatedEvent : IEventDTO
{
    [Parameter("uint64", "seq", 1, true)]
    public ulong Seq { get; set; }

    [Parameter("address", "writer", 2, true)]
    public string Writer { get; set; } = "";

    [Parameter("bytes", "cid", 3, false)]
    public byte[] Cid { get; set; } = [];

    [Parameter("bytes32", "cidHash", 4, true)]
    public byte[] CidHash { get; set; } = [];
}

internal static class BigIntegerExtensions
{
    public static ulong ToUInt64Checked(this BigInteger value) =>
        value < 0 || value > ulong.MaxValue ? throw new OverflowException($"{value} is not a uint64") : (ulong)value;
}
