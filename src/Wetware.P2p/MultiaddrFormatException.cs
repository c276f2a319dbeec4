namespace Wetware.P2p;

/// <summary>Text or bytes that are not a multiaddr this library reads; <see cref="Reason"/> says what is wrong.</summary>
public sealed class MultiaddrFormatException : FormatException
{
    public MultiaddrFormatException(string reason)
        : base(reason)
    {
        Reason = reason;
    }

    /// <summary>What is wrong, for a person.</summary>
    public string Reason { get; }
}
