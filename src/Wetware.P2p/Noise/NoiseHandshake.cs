using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc7748;
using Org.BouncyCastle.Security;
using Wetware.Identity;

namespace Wetware.P2p.Noise;

/// <summary>The outcome of a Noise handshake: the transport ciphers and the verified remote identity.</summary>
internal sealed record NoiseResult(CipherState Send, CipherState Receive, PublicKey RemoteKey, byte[] RemoteStatic);

/// <summary>
/// The Noise XX handshake with the libp2p payload (libp2p noise spec; Noise spec section 7.5):
/// <code>
/// -> e
/// &lt;- e, ee, s, es      (responder's payload)
/// -> s, se              (initiator's payload)
/// </code>
/// over messages framed by a 2-byte big-endian length. The protocol name is Noise_XX_25519_ChaChaPoly_SHA256 and
/// the prologue empty. Each payload's identity key must sign the sender's static key; a dialer that knows whom it
/// dials checks the Peer ID too.
/// </summary>
internal static class NoiseHandshake
{
    public const string ProtocolId = "/noise";
    public const string ProtocolName = "Noise_XX_25519_ChaChaPoly_SHA256";

    /// <summary>The largest Noise message, handshake or transport (the length prefix is 2 bytes).</summary>
    public const int MaxMessageLength = 65535;

    private const int DhLength = 32;
    private const int EncryptedStaticLength = DhLength + CipherState.TagLength;

    public static async Task<NoiseResult> InitiateAsync(IDuplexPipe transport, NoiseIdentity local, PeerId? expectedPeer, CancellationToken cancellationToken)
    {
        using var state = new SymmetricState(ProtocolName);
        state.MixHash([]); // the empty prologue
        byte[] e = NewEphemeral(out byte[] ePublic);
        try
        {
            // -> e (no payload: the first message travels in clear, libp2p noise spec)
            state.MixHash(ePublic);
            byte[] a = new byte[DhLength];
            ePublic.CopyTo(a, 0);
            state.EncryptAndHash([], a.AsSpan(DhLength));
            await WriteMessageAsync(transport.Output, a, cancellationToken).ConfigureAwait(false);

            // <- e, ee, s, es
            byte[] b = await ReadMessageAsync(transport.Input, "message 2", cancellationToken).ConfigureAwait(false);
            if (b.Length < DhLength + EncryptedStaticLength + CipherState.TagLength)
            {
                throw P2pException.Protocol($"noise: handshake message 2 is {b.Length} bytes, too short for e, s and a payload");
            }
            byte[] re = b[..DhLength];
            state.MixHash(re);
            MixDh(state, e, re);
            byte[] rs = new byte[DhLength];
            Decrypt(state, b.AsSpan(DhLength, EncryptedStaticLength), rs, "the responder's static key");
            MixDh(state, e, rs);
            byte[] payload = new byte[b.Length - DhLength - EncryptedStaticLength - CipherState.TagLength];
            Decrypt(state, b.AsSpan(DhLength + EncryptedStaticLength), payload, "the responder's payload");
            PublicKey remote = VerifyPayload(payload, rs);
            if (expectedPeer is { } expected && remote.PeerId != expected)
            {
                throw new P2pException(P2pError.PeerIdMismatch, $"noise: dialed {expected} but the peer proved {remote.PeerId}");
            }

            // -> s, se
            byte[] c = new byte[EncryptedStaticLength + local.Payload.Length + CipherState.TagLength];
            int n = state.EncryptAndHash(local.StaticPublic, c);
            MixDh(state, local.StaticPrivate, re);
            state.EncryptAndHash(local.Payload, c.AsSpan(n));
            await WriteMessageAsync(transport.Output, c, cancellationToken).ConfigureAwait(false);

            (CipherState first, CipherState second) = state.Split();
            return new NoiseResult(first, second, remote, rs);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(e);
        }
    }

    public static async Task<NoiseResult> RespondAsync(IDuplexPipe transport, NoiseIdentity local, CancellationToken cancellationToken)
    {
        using var state = new SymmetricState(ProtocolName);
        state.MixHash([]);

        // -> e
        byte[] a = await ReadMessageAsync(transport.Input, "message 1", cancellationToken).ConfigureAwait(false);
        if (a.Length != DhLength)
        {
            // Only the initiator's ephemeral key: the first message carries no payload (libp2p noise spec).
            throw P2pException.Protocol($"noise: handshake message 1 is {a.Length} bytes (an ephemeral key is {DhLength})");
        }
        byte[] re = a;
        state.MixHash(re);
        state.TryDecryptAndHash([], []);

        byte[] e = NewEphemeral(out byte[] ePublic);
        try
        {
            // <- e, ee, s, es
            byte[] b = new byte[DhLength + EncryptedStaticLength + local.Payload.Length + CipherState.TagLength];
            ePublic.CopyTo(b, 0);
            state.MixHash(ePublic);
            MixDh(state, e, re);
            int n = DhLength + state.EncryptAndHash(local.StaticPublic, b.AsSpan(DhLength));
            MixDh(state, local.StaticPrivate, re);
            state.EncryptAndHash(local.Payload, b.AsSpan(n));
            await WriteMessageAsync(transport.Output, b, cancellationToken).ConfigureAwait(false);

            // -> s, se
            byte[] c = await ReadMessageAsync(transport.Input, "message 3", cancellationToken).ConfigureAwait(false);
            if (c.Length < EncryptedStaticLength + CipherState.TagLength)
            {
                throw P2pException.Protocol($"noise: handshake message 3 is {c.Length} bytes, too short for s and a payload");
            }
            byte[] rs = new byte[DhLength];
            Decrypt(state, c.AsSpan(0, EncryptedStaticLength), rs, "the initiator's static key");
            MixDh(state, e, rs);
            byte[] payload = new byte[c.Length - EncryptedStaticLength - CipherState.TagLength];
            Decrypt(state, c.AsSpan(EncryptedStaticLength), payload, "the initiator's payload");
            PublicKey remote = VerifyPayload(payload, rs);

            (CipherState first, CipherState second) = state.Split();
            return new NoiseResult(second, first, remote, rs);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(e);
        }
    }

    /// <summary>Checks a NoiseHandshakePayload: its identity key must have signed the sender's static key.</summary>
    internal static PublicKey VerifyPayload(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> remoteStatic)
    {
        byte[]? identityKey = null;
        byte[]? signature = null;
        var reader = new ProtobufReader(payload, "noise: the handshake payload");
        while (reader.Next())
        {
            switch (reader.Field)
            {
                case 1:
                    identityKey = reader.ByteArray();
                    break;
                case 2:
                    signature = reader.ByteArray();
                    break;
                default:
                    // 3 (the old early data) and 4 (extensions: WebTransport cert hashes, muxers) are not used over TCP.
                    break;
            }
        }
        if (identityKey is null || signature is null)
        {
            throw P2pException.Protocol("noise: the handshake payload lacks the identity key or its signature");
        }
        PublicKey key;
        try
        {
            key = PublicKey.FromProtobuf(identityKey);
        }
        catch (IdentityFormatException e)
        {
            throw P2pException.Protocol($"noise: the handshake payload's identity key: {e.Reason}");
        }
        if (!key.VerifyLibp2p(NoiseIdentity.SignedBytes(remoteStatic), signature))
        {
            throw P2pException.Protocol($"noise: the signature of {key.PeerId} over its static key does not verify");
        }
        return key;
    }

    private static byte[] NewEphemeral(out byte[] publicKey)
    {
        var e = new byte[X25519.ScalarSize];
        X25519.GeneratePrivateKey(new SecureRandom(), e);
        publicKey = new byte[X25519.PointSize];
        X25519.GeneratePublicKey(e, 0, publicKey, 0);
        return e;
    }

    private static void MixDh(SymmetricState state, ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey)
    {
        Span<byte> shared = stackalloc byte[DhLength];
        // A low-order point gives an all-zero secret; refuse it rather than key the session with zeros.
        if (!X25519.CalculateAgreement(privateKey, publicKey, shared))
        {
            throw P2pException.Protocol("noise: the peer sent a low-order X25519 key");
        }
        state.MixKey(shared);
        CryptographicOperations.ZeroMemory(shared);
    }

    private static void Decrypt(SymmetricState state, ReadOnlySpan<byte> ciphertext, Span<byte> destination, string what)
    {
        if (!state.TryDecryptAndHash(ciphertext, destination))
        {
            throw P2pException.Protocol($"noise: {what} failed authentication");
        }
    }

    private static async ValueTask WriteMessageAsync(PipeWriter writer, byte[] message, CancellationToken cancellationToken)
    {
        Span<byte> prefix = writer.GetSpan(2);
        BinaryPrimitives.WriteUInt16BigEndian(prefix, (ushort)message.Length);
        writer.Advance(2);
        writer.Write(message);
        FlushResult result = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted)
        {
            throw new P2pException(P2pError.Closed, "noise: the peer closed the connection during the handshake");
        }
    }

    private static int ReadLength(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> prefix = stackalloc byte[2];
        buffer.Slice(0, 2).CopyTo(prefix);
        return BinaryPrimitives.ReadUInt16BigEndian(prefix);
    }

    private static async ValueTask<byte[]> ReadMessageAsync(PipeReader reader, string which, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.Length >= 2)
            {
                int length = ReadLength(buffer);
                if (buffer.Length >= 2 + length)
                {
                    byte[] message = buffer.Slice(2, length).ToArray();
                    reader.AdvanceTo(buffer.GetPosition(2 + length));
                    return message;
                }
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                throw new P2pException(P2pError.Closed, $"noise: the peer closed the connection before handshake {which}");
            }
        }
    }
}
