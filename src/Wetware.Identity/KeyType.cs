namespace Wetware.Identity;

/// <summary>The libp2p <c>KeyType</c> enum of the public-key protobuf (peer-ids spec), with its wire values.</summary>
public enum KeyType
{
    Rsa = 0,
    Ed25519 = 1,
    Secp256k1 = 2,
    Ecdsa = 3,
}
