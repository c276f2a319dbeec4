namespace Wetware.Identity;

/// <summary>Bytes or text that are not a valid Peer ID or libp2p public key; <see cref="Reason"/> says what is wrong.</summary>
public sealed class IdentityFormatException : FormatException
{
    public IdentityFormatException(string reason)
        : base(reason)
    {
        Reason = reason;
    }

    public IdentityFormatException(string reason, Exception inner)
        : base(reason, inner)
    {
        Reason = reason;
    }

    /// <summary>What is wrong, for a person (never contains secret material).</summary>
    public string Reason { get; }
}
