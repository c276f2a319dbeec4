using System.Text;

namespace Wetware.Identity;

/// <summary>
/// The domain-separated bytes every host signature is made over (identity.md, "Signing envelope"),
/// the same layout as libp2p's signed-envelope signature payload (RFC 0002):
/// <c>uvarint(len(domain)) || domain || uvarint(len(payloadType)) || payloadType || uvarint(len(payload)) || payload</c>.
/// </summary>
public static class SigningEnvelope
{
    /// <summary>The envelope for a UTF-8 <paramref name="domain"/> and <paramref name="payloadType"/>.</summary>
    public static byte[] Build(string domain, string payloadType, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(payloadType);
        return Build(Encoding.UTF8.GetBytes(domain), Encoding.UTF8.GetBytes(payloadType), payload);
    }

    /// <summary>The envelope for raw <paramref name="domain"/> and <paramref name="payloadType"/> bytes.</summary>
    public static byte[] Build(ReadOnlySpan<byte> domain, ReadOnlySpan<byte> payloadType, ReadOnlySpan<byte> payload)
    {
        int size = UVarint.Size((ulong)domain.Length) + domain.Length
            + UVarint.Size((ulong)payloadType.Length) + payloadType.Length
            + UVarint.Size((ulong)payload.Length) + payload.Length;
        var envelope = new byte[size];
        Span<byte> rest = envelope;
        rest = Append(rest, domain);
        rest = Append(rest, payloadType);
        Append(rest, payload);
        return envelope;
    }

    private static Span<byte> Append(Span<byte> destination, ReadOnlySpan<byte> field)
    {
        int n = UVarint.Write((ulong)field.Length, destination);
        field.CopyTo(destination[n..]);
        return destination[(n + field.Length)..];
    }
}
