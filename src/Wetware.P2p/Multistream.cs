using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Wetware.P2p;

/// <summary>
/// multistream-select 1.0.0 (libp2p connections spec, "Protocol Negotiation"): each message is a varint length,
/// UTF-8 text and a newline (the length counts the newline). The dialer sends the header and its first choice at
/// once; the listener answers the header, then echoes a protocol it speaks or says <c>na</c>. Bytes after the
/// last message stay in the reader for the negotiated protocol.
/// </summary>
internal static class Multistream
{
    public const string ProtocolId = "/multistream/1.0.0";

    /// <summary>The longest message, newline included (js-libp2p's MAX_PROTOCOL_LENGTH).</summary>
    public const int MaxMessageLength = 1024;

    /// <summary>How many protocols a dialer may propose on one stream before the listener gives up.</summary>
    public const int MaxProposals = 64;

    private const string NotAvailable = "na";

    /// <summary>As the dialer: the first of <paramref name="protocols"/> the listener accepts.</summary>
    public static async Task<string> SelectAsync(IDuplexPipe pipe, IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        if (protocols.Count == 0)
        {
            throw new ArgumentException("at least one protocol", nameof(protocols));
        }
        // Pipelined: header and first proposal in one write, so the common case costs one round trip.
        WriteMessage(pipe.Output, ProtocolId);
        WriteMessage(pipe.Output, protocols[0]);
        await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
        await ReadHeaderAsync(pipe.Input, cancellationToken).ConfigureAwait(false);
        for (int i = 0; ; i++)
        {
            string answer = await ReadMessageAsync(pipe.Input, cancellationToken).ConfigureAwait(false);
            if (answer == protocols[i])
            {
                return answer;
            }
            if (answer != NotAvailable)
            {
                throw P2pException.Protocol($"multistream-select: proposed '{protocols[i]}', got '{Shown(answer)}'");
            }
            if (i + 1 == protocols.Count)
            {
                throw new P2pException(P2pError.ProtocolNotSupported, $"the peer does not support {string.Join(", ", protocols)}");
            }
            WriteMessage(pipe.Output, protocols[i + 1]);
            await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// As the listener: answers proposals until one is in <paramref name="supported"/> (returned), <c>na</c> to the
    /// others, and the list for <c>ls</c>.
    /// </summary>
    public static async Task<string> ListenAsync(IDuplexPipe pipe, Func<string, bool> supported, Func<IEnumerable<string>> list, CancellationToken cancellationToken)
    {
        // Our header does not depend on the dialer's, but it waits in the writer until we would wait for the dialer:
        // a pipelining dialer (header and proposal at once) gets header and answer in one packet, and a dialer that
        // waits for our header before it proposes gets it before we wait.
        WriteMessage(pipe.Output, ProtocolId);
        bool headerSent = false;
        if (!HasMessage(pipe.Input))
        {
            await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
            headerSent = true;
        }
        await ReadHeaderAsync(pipe.Input, cancellationToken).ConfigureAwait(false);
        for (int proposals = 0; proposals < MaxProposals; proposals++)
        {
            if (!headerSent && !HasMessage(pipe.Input))
            {
                await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
                headerSent = true;
            }
            string proposal = await ReadMessageAsync(pipe.Input, cancellationToken).ConfigureAwait(false);
            if (proposal == ProtocolId)
            {
                proposals--;
                continue;
            }
            if (proposal.Length > 0 && proposal != NotAvailable && proposal != "ls" && supported(proposal))
            {
                WriteMessage(pipe.Output, proposal);
                await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
                return proposal;
            }
            if (proposal == "ls")
            {
                WriteList(pipe.Output, list());
            }
            else
            {
                WriteMessage(pipe.Output, NotAvailable);
            }
            await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
            headerSent = true;
        }
        throw P2pException.Protocol($"multistream-select: more than {MaxProposals} proposals without agreement");
    }

    internal static void WriteMessage(PipeWriter writer, string text)
    {
        int length = Encoding.UTF8.GetByteCount(text) + 1;
        if (length > MaxMessageLength)
        {
            throw new ArgumentException($"a multistream-select message is at most {MaxMessageLength} bytes", nameof(text));
        }
        Span<byte> span = writer.GetSpan(Varint.MaxLength + length);
        int n = Varint.Write((ulong)length, span);
        n += Encoding.UTF8.GetBytes(text, span[n..]);
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    /// <summary>The answer to <c>ls</c> (as js-libp2p writes it): one message holding each protocol as a message, then a newline.</summary>
    private static void WriteList(PipeWriter writer, IEnumerable<string> protocols)
    {
        var inner = new ArrayBufferWriter<byte>();
        foreach (string p in protocols)
        {
            byte[] text = Encoding.UTF8.GetBytes(p + "\n");
            if (inner.WrittenCount + text.Length + 3 > MaxMessageLength - 1)
            {
                break;
            }
            Varint.Write(inner, (ulong)text.Length);
            inner.Write(text);
        }
        inner.Write("\n"u8);
        Varint.Write(writer, (ulong)inner.WrittenCount);
        writer.Write(inner.WrittenSpan);
    }

    /// <summary>
    /// The first message must be the header. Its length is known (19), so anything else (an HTTP request, TLS, random
    /// bytes) is refused at its first byte instead of waiting for a message that never ends.
    /// </summary>
    private static async ValueTask ReadHeaderAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        string header = await ReadMessageAsync(reader, cancellationToken, Encoding.UTF8.GetByteCount(ProtocolId) + 1).ConfigureAwait(false);
        if (header != ProtocolId)
        {
            throw P2pException.Protocol($"multistream-select: expected '{ProtocolId}', got '{Shown(header)}'");
        }
    }

    /// <summary>True when a whole message (or a malformed one, which the read then reports) is already buffered.</summary>
    private static bool HasMessage(PipeReader reader)
    {
        if (!reader.TryRead(out ReadResult result))
        {
            return false;
        }
        ReadOnlySequence<byte> buffer = result.Buffer;
        bool complete = Varint.TryRead(buffer, out ulong length, out int n) switch
        {
            Varint.Status.NeedMore => false,
            Varint.Status.Malformed => true,
            _ => length is 0 or > MaxMessageLength || buffer.Length >= n + (long)length,
        };
        // Nothing consumed or examined: the next read returns the same bytes at once.
        reader.AdvanceTo(buffer.Start);
        return complete || result.IsCompleted || result.IsCanceled;
    }

    internal static async ValueTask<string> ReadMessageAsync(PipeReader reader, CancellationToken cancellationToken, int expectedLength = 0)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (expectedLength > 0 && Varint.TryRead(buffer, out ulong announced, out _) == Varint.Status.Done && announced != (ulong)expectedLength)
            {
                throw P2pException.Protocol($"multistream-select: expected the header '{ProtocolId}', got a message of {announced} bytes");
            }
            if (TryParse(ref buffer, out string? message, out SequencePosition consumed))
            {
                reader.AdvanceTo(consumed);
                return message;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                throw new P2pException(P2pError.Closed, "multistream-select: the peer closed the stream during negotiation");
            }
        }
    }

    private static bool TryParse(ref ReadOnlySequence<byte> buffer, out string message, out SequencePosition consumed)
    {
        message = string.Empty;
        consumed = buffer.Start;
        switch (Varint.TryRead(buffer, out ulong length, out int n))
        {
            case Varint.Status.NeedMore:
                return false;
            case Varint.Status.Malformed:
                throw P2pException.Protocol("multistream-select: a malformed length prefix");
        }
        if (length is 0 or > MaxMessageLength)
        {
            throw P2pException.Protocol($"multistream-select: a message of {length} bytes (1 to {MaxMessageLength} allowed)");
        }
        if (buffer.Length < n + (long)length)
        {
            return false;
        }
        ReadOnlySequence<byte> body = buffer.Slice(n, (long)length);
        Span<byte> bytes = stackalloc byte[(int)length];
        body.CopyTo(bytes);
        if (bytes[^1] != (byte)'\n')
        {
            throw P2pException.Protocol("multistream-select: a message without its trailing newline");
        }
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw P2pException.Protocol("multistream-select: a message that is not UTF-8");
        }
        message = Encoding.UTF8.GetString(bytes[..^1]);
        consumed = body.End;
        return true;
    }

    private static async ValueTask FlushAsync(PipeWriter writer, CancellationToken cancellationToken)
    {
        FlushResult result = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted)
        {
            throw new P2pException(P2pError.Closed, "multistream-select: the peer stopped reading during negotiation");
        }
    }

    private static string Shown(string text)
    {
        var printable = new StringBuilder();
        foreach (char c in text.Length > 64 ? text[..64] : text)
        {
            printable.Append(char.IsControl(c) ? '?' : c);
        }
        return text.Length > 64 ? printable + "..." : printable.ToString();
    }
}
