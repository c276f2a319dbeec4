using System.Buffers;
using System.IO.Pipelines;
using Wetware.Identity;

namespace Wetware.P2p.Protocols;

/// <summary>
/// identify (libp2p identify spec): the responder writes one varint-length-prefixed <c>Identify</c> protobuf and
/// closes; push (/ipfs/id/push/1.0.0) is the same message sent by the one whose details changed.
/// </summary>
internal static class Identify
{
    public const string ProtocolId = "/ipfs/id/1.0.0";
    public const string PushProtocolId = "/ipfs/id/push/1.0.0";

    /// <summary>Largest message read (js-libp2p and go-libp2p send at most 8 KiB; we allow some slack).</summary>
    public const int MaxMessageBytes = 64 * 1024;

    public static byte[] Encode(PublicKey key, string protocolVersion, string agentVersion, IEnumerable<Multiaddr> listenAddresses, Multiaddr? observed, IEnumerable<string> protocols)
    {
        var writer = new ArrayBufferWriter<byte>();
        Protobuf.WriteBytes(writer, 1, key.Protobuf.Span);
        foreach (Multiaddr a in listenAddresses)
        {
            Protobuf.WriteBytes(writer, 2, a.Bytes.Span);
        }
        foreach (string p in protocols)
        {
            Protobuf.WriteString(writer, 3, p);
        }
        if (observed is not null)
        {
            Protobuf.WriteBytes(writer, 4, observed.Bytes.Span);
        }
        Protobuf.WriteString(writer, 5, protocolVersion);
        Protobuf.WriteString(writer, 6, agentVersion);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads a message from <paramref name="remote"/>. Fields a push leaves out keep the values of
    /// <paramref name="previous"/>. The public key, when present, must be the peer's.
    /// </summary>
    public static IdentifyInfo Decode(ReadOnlySpan<byte> message, PeerId remote, PublicKey remoteKey, IdentifyInfo? previous)
    {
        PublicKey? key = null;
        string? protocolVersion = null;
        string? agentVersion = null;
        List<Multiaddr>? listen = null;
        List<string>? protocols = null;
        Multiaddr? observed = null;
        var reader = new ProtobufReader(message, "identify");
        while (reader.Next())
        {
            switch (reader.Field)
            {
                case 1:
                    try
                    {
                        key = PublicKey.FromProtobuf(reader.Bytes);
                    }
                    catch (IdentityFormatException e)
                    {
                        throw P2pException.Protocol($"identify: the public key: {e.Reason}");
                    }
                    if (key.PeerId != remote)
                    {
                        throw P2pException.Protocol($"identify: the public key is {key.PeerId}'s, not the peer's ({remote})");
                    }
                    break;
                case 2:
                    listen ??= [];
                    // An address with a protocol we do not know (webrtc, memory, ...) is skipped, not an error.
                    try
                    {
                        listen.Add(Multiaddr.FromBytes(reader.Bytes));
                    }
                    catch (MultiaddrFormatException)
                    {
                    }
                    break;
                case 3:
                    (protocols ??= []).Add(reader.String());
                    break;
                case 4:
                    try
                    {
                        observed = Multiaddr.FromBytes(reader.Bytes);
                    }
                    catch (MultiaddrFormatException)
                    {
                    }
                    break;
                case 5:
                    protocolVersion = reader.String();
                    break;
                case 6:
                    agentVersion = reader.String();
                    break;
                default:
                    // 8: signedPeerRecord (the listen addresses, signed); the plain field 2 serves us.
                    break;
            }
        }
        return new IdentifyInfo(
            key ?? previous?.PublicKey ?? remoteKey,
            protocolVersion ?? previous?.ProtocolVersion,
            agentVersion ?? previous?.AgentVersion,
            listen ?? previous?.ListenAddresses ?? [],
            observed ?? previous?.ObservedAddress,
            protocols ?? previous?.Protocols ?? []);
    }

    public static async Task WriteAsync(PipeWriter output, byte[] message, CancellationToken cancellationToken)
    {
        Varint.Write(output, (ulong)message.Length);
        output.Write(message);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        await output.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Reads one length-prefixed message (at most <see cref="MaxMessageBytes"/>).</summary>
    public static async Task<byte[]> ReadAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            switch (Varint.TryRead(buffer, out ulong length, out int n))
            {
                case Varint.Status.Malformed:
                    throw P2pException.Protocol("identify: a malformed length prefix");
                case Varint.Status.Done:
                    if (length > MaxMessageBytes)
                    {
                        throw P2pException.Protocol($"identify: a message of {length} bytes (at most {MaxMessageBytes})");
                    }
                    if (buffer.Length >= n + (long)length)
                    {
                        byte[] message = buffer.Slice(n, (long)length).ToArray();
                        input.AdvanceTo(buffer.GetPosition(n + (long)length));
                        return message;
                    }
                    break;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                throw new P2pException(P2pError.Closed, "identify: the stream ended before the message");
            }
        }
    }
}
