using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Wetware.Identity;

namespace Wetware.P2p;

/// <summary>One protocol of a multiaddr and its value (null for protocols without one, such as <c>/p2p-circuit</c>).</summary>
public readonly record struct MultiaddrComponent(string Protocol, string? Value);

/// <summary>
/// A multiaddr (multiformats multiaddr spec): a sequence of protocols with values, in text
/// (<c>/ip4/127.0.0.1/tcp/4001/p2p/16Uiu2...</c>) and binary form (varint code, then the value: fixed-size for
/// addresses and ports, varint-length-prefixed for names and Peer IDs). Both forms round-trip exactly.
/// Protocols: ip4, ip6, ip6zone, tcp, udp, dns, dns4, dns6, dnsaddr, p2p (also read as ipfs), p2p-circuit,
/// quic, quic-v1, tls, noise, ws, wss, webtransport.
/// </summary>
public sealed class Multiaddr : IEquatable<Multiaddr>
{
    private readonly byte[] _bytes;
    private readonly MultiaddrComponent[] _components;
    private string? _text;

    private Multiaddr(byte[] bytes, MultiaddrComponent[] components)
    {
        _bytes = bytes;
        _components = components;
    }

    /// <summary>The binary form.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>The protocols in order.</summary>
    public IReadOnlyList<MultiaddrComponent> Components => _components;

    /// <summary>The Peer ID of the last <c>/p2p/</c> component, if there is one.</summary>
    public PeerId? PeerId
    {
        get
        {
            for (int i = _components.Length - 1; i >= 0; i--)
            {
                if (_components[i].Protocol == "p2p")
                {
                    return Identity.PeerId.Parse(_components[i].Value!);
                }
            }
            return null;
        }
    }

    /// <summary>Parses the text form; throws <see cref="MultiaddrFormatException"/> with the reason.</summary>
    public static Multiaddr Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text, out Multiaddr? addr, out string? reason))
        {
            throw new MultiaddrFormatException($"not a multiaddr: '{Shorten(text)}': {reason}");
        }
        return addr;
    }

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Multiaddr? addr) =>
        TryParse(text, out addr, out _);

    /// <summary>Reads the binary form; throws <see cref="MultiaddrFormatException"/> with the reason.</summary>
    public static Multiaddr FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (!TryFromBytes(bytes, out Multiaddr? addr, out string? reason))
        {
            throw new MultiaddrFormatException($"not a binary multiaddr: {reason}");
        }
        return addr;
    }

    /// <summary>The multiaddr of a TCP endpoint: <c>/ip4/a.b.c.d/tcp/port</c> or <c>/ip6/.../tcp/port</c>.</summary>
    public static Multiaddr FromEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        IPAddress address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        string family = address.AddressFamily == AddressFamily.InterNetwork ? "ip4" : "ip6";
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            address = new IPAddress(address.GetAddressBytes());
        }
        return Parse($"/{family}/{address}/tcp/{endPoint.Port}");
    }

    /// <summary>This address followed by <paramref name="other"/>.</summary>
    public Multiaddr Encapsulate(Multiaddr other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return FromBytes([.. _bytes, .. other._bytes]);
    }

    /// <summary>This address with <c>/p2p/&lt;peer&gt;</c> appended (replacing a trailing one).</summary>
    public Multiaddr WithPeerId(PeerId peer) =>
        Parse(WithoutPeerId().ToString() + "/p2p/" + peer.ToString());

    /// <summary>This address without its trailing <c>/p2p/</c> component (the transport part).</summary>
    public Multiaddr WithoutPeerId()
    {
        if (_components.Length == 0 || _components[^1].Protocol != "p2p")
        {
            return this;
        }
        var text = new StringBuilder();
        for (int i = 0; i < _components.Length - 1; i++)
        {
            Append(text, _components[i]);
        }
        return Parse(text.ToString());
    }

    public override string ToString()
    {
        if (_text is null)
        {
            var text = new StringBuilder();
            foreach (MultiaddrComponent c in _components)
            {
                Append(text, c);
            }
            _text = text.ToString();
        }
        return _text;
    }

    public bool Equals(Multiaddr? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => Equals(obj as Multiaddr);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes);
        return hash.ToHashCode();
    }

    /// <summary>
    /// The TCP target of this address: an IP address or a DNS name (with the address family a dns4/dns6 name asks
    /// for) and the port. False for anything that is not <c>ip4|ip6|dns|dns4|dns6 / tcp</c> (optionally
    /// followed by <c>/p2p/</c>).
    /// </summary>
    internal bool TryGetTcpTarget([NotNullWhen(true)] out string? host, out AddressFamily family, out int port)
    {
        host = null;
        family = AddressFamily.Unspecified;
        port = 0;
        int n = _components.Length;
        if (n > 0 && _components[^1].Protocol == "p2p")
        {
            n--;
        }
        if (n != 2 || _components[1].Protocol != "tcp")
        {
            return false;
        }
        (host, family) = _components[0].Protocol switch
        {
            "ip4" => (_components[0].Value, AddressFamily.InterNetwork),
            "ip6" => (_components[0].Value, AddressFamily.InterNetworkV6),
            "dns4" => (_components[0].Value, AddressFamily.InterNetwork),
            "dns6" => (_components[0].Value, AddressFamily.InterNetworkV6),
            "dns" => (_components[0].Value, AddressFamily.Unspecified),
            _ => (null, AddressFamily.Unspecified),
        };
        port = int.Parse(_components[1].Value!, System.Globalization.CultureInfo.InvariantCulture);
        return host is not null;
    }

    private static void Append(StringBuilder text, MultiaddrComponent c)
    {
        text.Append('/').Append(c.Protocol);
        if (c.Value is not null)
        {
            text.Append('/').Append(c.Value);
        }
    }

    private static string Shorten(string text) => text.Length > 120 ? text[..120] + "..." : text;

    private static bool TryParse(string? text, [NotNullWhen(true)] out Multiaddr? addr, [NotNullWhen(false)] out string? reason)
    {
        addr = null;
        if (string.IsNullOrEmpty(text))
        {
            reason = "empty";
            return false;
        }
        if (text[0] != '/')
        {
            reason = "a multiaddr starts with '/'";
            return false;
        }
        string[] parts = text.TrimEnd('/').Split('/');
        var bytes = new List<byte>();
        var components = new List<MultiaddrComponent>();
        Span<byte> varint = stackalloc byte[Varint.MaxLength];
        for (int i = 1; i < parts.Length; i++)
        {
            string name = parts[i];
            if (!MultiaddrProtocol.TryByName(name, out MultiaddrProtocol? protocol))
            {
                reason = name.Length == 0 ? "an empty protocol name" : $"unknown protocol '{Shorten(name)}'";
                return false;
            }
            bytes.AddRange(varint[..Varint.Write(protocol.Code, varint)]);
            if (protocol.Size == 0)
            {
                components.Add(new MultiaddrComponent(protocol.Name, null));
                continue;
            }
            if (++i >= parts.Length)
            {
                reason = $"/{protocol.Name} needs a value";
                return false;
            }
            if (!protocol.TryTextToBytes(parts[i], out byte[]? value, out reason))
            {
                reason = $"/{protocol.Name}: {reason}";
                return false;
            }
            if (protocol.Size < 0)
            {
                bytes.AddRange(varint[..Varint.Write((ulong)value.Length, varint)]);
            }
            bytes.AddRange(value);
            components.Add(new MultiaddrComponent(protocol.Name, protocol.BytesToText(value)));
        }
        if (components.Count == 0)
        {
            reason = "no protocols";
            return false;
        }
        addr = new Multiaddr([.. bytes], [.. components]);
        reason = null;
        return true;
    }

    private static bool TryFromBytes(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out Multiaddr? addr, [NotNullWhen(false)] out string? reason)
    {
        addr = null;
        if (bytes.IsEmpty)
        {
            reason = "empty";
            return false;
        }
        var components = new List<MultiaddrComponent>();
        ReadOnlySpan<byte> rest = bytes;
        while (!rest.IsEmpty)
        {
            if (!Varint.TryRead(rest, out ulong code, out int n))
            {
                reason = "a malformed protocol code";
                return false;
            }
            rest = rest[n..];
            if (!MultiaddrProtocol.TryByCode(code, out MultiaddrProtocol? protocol))
            {
                reason = $"unknown protocol code 0x{code:x}";
                return false;
            }
            if (protocol.Size == 0)
            {
                components.Add(new MultiaddrComponent(protocol.Name, null));
                continue;
            }
            int length = protocol.Size;
            if (length < 0)
            {
                if (!Varint.TryRead(rest, out ulong l, out n) || l > (ulong)(rest.Length - n))
                {
                    reason = $"/{protocol.Name}: a truncated value";
                    return false;
                }
                rest = rest[n..];
                length = (int)l;
            }
            if (rest.Length < length)
            {
                reason = $"/{protocol.Name}: a truncated value";
                return false;
            }
            ReadOnlySpan<byte> value = rest[..length];
            rest = rest[length..];
            if (!protocol.TryCheckBytes(value, out reason))
            {
                reason = $"/{protocol.Name}: {reason}";
                return false;
            }
            components.Add(new MultiaddrComponent(protocol.Name, protocol.BytesToText(value)));
        }
        addr = new Multiaddr(bytes.ToArray(), [.. components]);
        reason = null;
        return true;
    }
}

/// <summary>The multiaddr protocol table (multicodec codes); <see cref="Size"/> is bytes, -1 variable, 0 none.</summary>
internal sealed class MultiaddrProtocol
{
    private static readonly MultiaddrProtocol[] All =
    [
        new("ip4", 0x04, 4, ValueKind.Ip4),
        new("tcp", 0x06, 2, ValueKind.Port),
        new("udp", 0x0111, 2, ValueKind.Port),
        new("ip6", 0x29, 16, ValueKind.Ip6),
        new("ip6zone", 0x2a, -1, ValueKind.Name),
        new("dns", 0x35, -1, ValueKind.Name),
        new("dns4", 0x36, -1, ValueKind.Name),
        new("dns6", 0x37, -1, ValueKind.Name),
        new("dnsaddr", 0x38, -1, ValueKind.Name),
        new("p2p", 0x01a5, -1, ValueKind.PeerId),
        new("p2p-circuit", 0x0122, 0, ValueKind.None),
        new("quic", 0x01cc, 0, ValueKind.None),
        new("quic-v1", 0x01cd, 0, ValueKind.None),
        new("tls", 0x01c0, 0, ValueKind.None),
        new("noise", 0x01c6, 0, ValueKind.None),
        new("ws", 0x01dd, 0, ValueKind.None),
        new("wss", 0x01de, 0, ValueKind.None),
        new("webtransport", 0x01d1, 0, ValueKind.None),
    ];

    private MultiaddrProtocol(string name, ulong code, int size, ValueKind kind)
    {
        Name = name;
        Code = code;
        Size = size;
        Kind = kind;
    }

    private enum ValueKind
    {
        None,
        Ip4,
        Ip6,
        Port,
        Name,
        PeerId,
    }

    public string Name { get; }

    public ulong Code { get; }

    public int Size { get; }

    private ValueKind Kind { get; }

    public static bool TryByName(string name, [NotNullWhen(true)] out MultiaddrProtocol? protocol)
    {
        // "ipfs" is the old name of "p2p" (multiaddr spec); it is read, never written.
        string wanted = name == "ipfs" ? "p2p" : name;
        protocol = Array.Find(All, p => p.Name == wanted);
        return protocol is not null;
    }

    public static bool TryByCode(ulong code, [NotNullWhen(true)] out MultiaddrProtocol? protocol)
    {
        protocol = Array.Find(All, p => p.Code == code);
        return protocol is not null;
    }

    public bool TryTextToBytes(string text, [NotNullWhen(true)] out byte[]? bytes, [NotNullWhen(false)] out string? reason)
    {
        bytes = null;
        switch (Kind)
        {
            case ValueKind.Ip4:
                if (!TryParseIp4(text, out bytes))
                {
                    reason = $"'{text}' is not a dotted-quad IPv4 address";
                    return false;
                }
                break;
            case ValueKind.Ip6:
                if (text.Contains('%') || !IPAddress.TryParse(text, out IPAddress? ip6) || ip6.AddressFamily != AddressFamily.InterNetworkV6)
                {
                    reason = $"'{text}' is not an IPv6 address (a zone goes in /ip6zone)";
                    return false;
                }
                bytes = ip6.GetAddressBytes();
                break;
            case ValueKind.Port:
                if (text.Length is 0 or > 5 || !text.All(char.IsAsciiDigit) || !ushort.TryParse(text, out ushort port) || (text.Length > 1 && text[0] == '0'))
                {
                    reason = $"'{text}' is not a port (0 to 65535)";
                    return false;
                }
                bytes = [(byte)(port >> 8), (byte)port];
                break;
            case ValueKind.Name:
                if (text.Length == 0)
                {
                    reason = "an empty name";
                    return false;
                }
                bytes = Encoding.UTF8.GetBytes(text);
                break;
            case ValueKind.PeerId:
                if (!Identity.PeerId.TryParse(text, out PeerId peer))
                {
                    reason = $"'{text}' is not a Peer ID";
                    return false;
                }
                bytes = peer.Bytes.ToArray();
                break;
            default:
                throw new InvalidOperationException("a protocol without a value has no text value");
        }
        reason = null;
        return true;
    }

    public bool TryCheckBytes(ReadOnlySpan<byte> value, [NotNullWhen(false)] out string? reason)
    {
        reason = null;
        switch (Kind)
        {
            case ValueKind.Name:
                if (value.IsEmpty)
                {
                    reason = "an empty name";
                    return false;
                }
                if (!System.Text.Unicode.Utf8.IsValid(value) || value.Contains((byte)'/'))
                {
                    reason = "a name that is not UTF-8 without '/'";
                    return false;
                }
                return true;
            case ValueKind.PeerId:
                try
                {
                    Identity.PeerId.FromBytes(value);
                    return true;
                }
                catch (IdentityFormatException e)
                {
                    reason = e.Reason;
                    return false;
                }
            default:
                return true;
        }
    }

    public string BytesToText(ReadOnlySpan<byte> value) => Kind switch
    {
        ValueKind.Ip4 or ValueKind.Ip6 => new IPAddress(value).ToString(),
        ValueKind.Port => ((value[0] << 8) | value[1]).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ValueKind.Name => Encoding.UTF8.GetString(value),
        ValueKind.PeerId => Identity.PeerId.FromBytes(value).ToString(),
        _ => throw new InvalidOperationException("a protocol without a value has no text value"),
    };

    private static bool TryParseIp4(string text, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        string[] parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }
        var result = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            string p = parts[i];
            if (p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || (p.Length > 1 && p[0] == '0') || !byte.TryParse(p, out result[i]))
            {
                return false;
            }
        }
        bytes = result;
        return true;
    }
}
