namespace Wetware.Host;

/// <summary>
/// What the host needs of the node identity (shared/spec/identity.md): its Peer ID and public key, signing
/// inside the host (the key never leaves it), and verification of other keys' signatures.
/// </summary>
public interface INodeIdentity
{
    /// <summary>The binary Peer ID (multihash bytes).</summary>
    ReadOnlyMemory<byte> PeerId { get; }

    /// <summary>The libp2p public-key protobuf of the node key.</summary>
    ReadOnlyMemory<byte> PublicKey { get; }

    /// <summary>Signs the envelope of (<paramref name="domain"/>, <paramref name="payloadType"/>, <paramref name="payload"/>).</summary>
    byte[] Sign(string domain, string payloadType, ReadOnlySpan<byte> payload);

    /// <summary>Checks a signature made over the same envelope by the holder of <paramref name="publicKey"/> (a libp2p public-key protobuf).</summary>
    bool Verify(ReadOnlySpan<byte> publicKey, string domain, string payloadType, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature);
}

/// <summary>No node key: an empty Peer ID; signing and verification fail. Until the identity core is wired in.</summary>
internal sealed class NoIdentity : INodeIdentity
{
    public static readonly NoIdentity Instance = new();

    public ReadOnlyMemory<byte> PeerId => ReadOnlyMemory<byte>.Empty;

    public ReadOnlyMemory<byte> PublicKey => ReadOnlyMemory<byte>.Empty;

    public byte[] Sign(string domain, string payloadType, ReadOnlySpan<byte> payload) =>
        throw new Capnp.Rpc.RpcException(Capnp.Rpc.RpcErrorType.Failed, "this host has no node key to sign with");

    public bool Verify(ReadOnlySpan<byte> publicKey, string domain, string payloadType, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature) => false;
}

/// <summary>The node identity of a secp256k1 node key (shared/spec/identity.md).</summary>
public sealed class NodeKeyIdentity(Identity.NodeKey key) : INodeIdentity
{
    public Identity.NodeKey Key => key;

    public ReadOnlyMemory<byte> PeerId => key.PeerId.Bytes;

    public ReadOnlyMemory<byte> PublicKey => key.PublicKey.Protobuf;

    public byte[] Sign(string domain, string payloadType, ReadOnlySpan<byte> payload) => key.Sign(domain, payloadType, payload);

    public bool Verify(ReadOnlySpan<byte> publicKey, string domain, string payloadType, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature)
    {
        try
        {
            return Identity.PublicKey.FromProtobuf(publicKey).Verify(domain, payloadType, payload, signature);
        }
        catch (Identity.IdentityFormatException)
        {
            return false; // not a key we can check: not verified
        }
    }
}
