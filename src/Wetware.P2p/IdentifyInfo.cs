using Wetware.Identity;

namespace Wetware.P2p;

/// <summary>What a peer said about itself in identify (/ipfs/id/1.0.0) or identify push.</summary>
public sealed record IdentifyInfo(
    PublicKey PublicKey,
    string? ProtocolVersion,
    string? AgentVersion,
    IReadOnlyList<Multiaddr> ListenAddresses,
    Multiaddr? ObservedAddress,
    IReadOnlyList<string> Protocols);
