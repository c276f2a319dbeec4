namespace Wetware.Ipfs;

/// <summary>Why an IPFS call failed, for callers that map failures to their own kinds (e.g. Cap'n Proto <c>disconnected</c>).</summary>
public enum IpfsErrorKind
{
    /// <summary>No connection to the node, or it went away mid-answer.</summary>
    Unreachable,

    /// <summary>The node did not answer in time (our timeout, or the node's own <c>timeout=</c>).</summary>
    Timeout,

    /// <summary>The node answered with an error.</summary>
    Node,

    /// <summary>The content is larger than the caller's limit.</summary>
    TooLarge,

    /// <summary>The node's answer could not be understood.</summary>
    Protocol,
}

/// <summary>A failed call to an IPFS node; the message names the node's URL and the reason.</summary>
public sealed class IpfsException : Exception
{
    public IpfsException(IpfsErrorKind kind, Uri url, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Url = url;
    }

    public IpfsException(IpfsErrorKind kind, Uri url, string message, string? nodeMessage, int? nodeCode, int? httpStatus)
        : base(message)
    {
        Kind = kind;
        Url = url;
        NodeMessage = nodeMessage;
        NodeCode = nodeCode;
        HttpStatus = httpStatus;
    }

    public IpfsErrorKind Kind { get; }

    /// <summary>The node's API URL (<c>http://host:port</c>, without the command).</summary>
    public Uri Url { get; }

    /// <summary>The node's own error text (<c>Message</c> of its error JSON), when it answered one.</summary>
    public string? NodeMessage { get; }

    /// <summary>The node's error <c>Code</c> (Kubo's cmds error codes: 0 normal, 1 client, 2 implementation, 3 rate limited, 4 forbidden).</summary>
    public int? NodeCode { get; }

    public int? HttpStatus { get; }
}
