using System.Buffers.Binary;

namespace Wetware.Identity;

/// <summary>
/// What a graft signer signs (identity.md, "Signing envelope"): in domain <see cref="Domain"/> with payload type
/// <see cref="PayloadType"/>, the payload nonce (8 bytes BE) || epochSeq (8 bytes BE) || audience, where the
/// audience is the binary Peer ID of the node the <c>sign</c> call came from. A verifier rebuilds the payload with
/// its own Peer ID, so a signature relayed from another node never verifies.
/// </summary>
public static class GraftChallenge
{
    public const string Domain = "ww-membrane-graft";

    public const string PayloadType = "/ww/membrane/graft-nonce";

    /// <summary>nonce || epochSeq || audience (the audience's binary Peer ID).</summary>
    public static byte[] Payload(ulong nonce, ulong epochSeq, ReadOnlySpan<byte> audience)
    {
        var payload = new byte[16 + audience.Length];
        BinaryPrimitives.WriteUInt64BigEndian(payload, nonce);
        BinaryPrimitives.WriteUInt64BigEndian(payload.AsSpan(8), epochSeq);
        audience.CopyTo(payload.AsSpan(16));
        return payload;
    }

    /// <summary>nonce || epochSeq || the audience's binary Peer ID.</summary>
    public static byte[] Payload(ulong nonce, ulong epochSeq, PeerId audience) => Payload(nonce, epochSeq, audience.Bytes.Span);
}
