using System.Buffers;
using System.Text.Json;

namespace Wetware.Ipfs;

/// <summary>
/// One HTTP call to the node: its timer and the translation of every failure into an <see cref="IpfsException"/>.
/// The timer is either a deadline for the whole call or, for streaming calls, a stall timer that each piece of
/// progress (a chunk sent or received) winds up again.
/// </summary>
internal sealed class Call : IDisposable
{
    private readonly IpfsClient _client;
    private readonly CancellationTokenSource _cts;
    private TimeSpan _timeout;
    private bool _deadline;

    public Call(IpfsClient client, string what, CancellationTokenSource cts)
    {
        _client = client;
        What = what;
        _cts = cts;
        _timeout = client.Options.Timeout;
    }

    /// <summary>What the call does, for messages: <c>cat /ipfs/Qm...</c>.</summary>
    public string What { get; }

    public IpfsClient Client => _client;

    public CancellationToken Token => _cts.Token;

    /// <summary>The whole call must end within <paramref name="timeout"/>.</summary>
    public void Deadline(TimeSpan timeout)
    {
        _timeout = timeout;
        _deadline = true;
        _cts.CancelAfter(timeout);
    }

    /// <summary>We wait on the node now (a read or a write): a streaming call may wait a whole timeout again.</summary>
    public void Progress()
    {
        if (!_deadline)
        {
            _cts.CancelAfter(_timeout);
        }
    }

    /// <summary>
    /// We do not wait on the node now (our caller is busy with what it got, or producing what we send): a stall
    /// timer must not count that against the node. A deadline keeps running.
    /// </summary>
    public void Pause()
    {
        if (!_deadline)
        {
            _cts.CancelAfter(System.Threading.Timeout.InfiniteTimeSpan);
        }
    }

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken callerToken)
    {
        Progress();
        HttpResponseMessage response;
        try
        {
            response = await _client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not IpfsException)
        {
            throw Translate(e, callerToken, beforeAnswer: true);
        }
        finally
        {
            request.Dispose();
        }
        if (response.IsSuccessStatusCode)
        {
            Pause();
            return response;
        }
        using (response)
        {
            byte[] body;
            try
            {
                Stream stream = await response.Content.ReadAsStreamAsync(_cts.Token).ConfigureAwait(false);
                body = await ReadAllAsync(stream, 64 << 10, callerToken, truncate: true).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not IpfsException)
            {
                throw Translate(e, callerToken, beforeAnswer: false);
            }
            // Both nodes answer errors as {"Message":"...","Code":0,"Type":"error"}; Kubo answers an unknown
            // command with a plain-text 404.
            (string message, int? code) = ParseError(body);
            if (message.Length == 0)
            {
                message = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
            }
            throw _client.NodeError(What, message, code, (int)response.StatusCode);
        }
    }

    public async Task<Stream> ReadBodyStreamAsync(HttpResponseMessage response, CancellationToken callerToken)
    {
        try
        {
            return await response.Content.ReadAsStreamAsync(_cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not IpfsException)
        {
            throw Translate(e, callerToken, beforeAnswer: false);
        }
    }

    /// <summary>Reads a whole body; more than <paramref name="maxBytes"/> is refused (or, with truncate, cut).</summary>
    public async Task<byte[]> ReadAllAsync(Stream body, int maxBytes, CancellationToken callerToken, bool truncate = false)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            while (true)
            {
                Progress();
                int room = maxBytes - buffer.WrittenCount;
                // One byte more than the limit tells "exactly at the limit" from "over it".
                Memory<byte> memory = buffer.GetMemory(Math.Min(64 << 10, room + 1));
                int n = await body.ReadAsync(memory[..Math.Min(memory.Length, room + 1)], _cts.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return buffer.WrittenSpan.ToArray();
                }
                if (n > room)
                {
                    if (truncate)
                    {
                        buffer.Advance(room);
                        return buffer.WrittenSpan.ToArray();
                    }
                    throw _client.TooLarge(What, maxBytes, null);
                }
                buffer.Advance(n);
            }
        }
        catch (Exception e) when (e is not IpfsException)
        {
            throw Translate(e, callerToken, beforeAnswer: false);
        }
    }

    /// <summary>Turns a failure of the HTTP stack into an <see cref="IpfsException"/> (the caller's own cancellation stays one).</summary>
    public Exception Translate(Exception e, CancellationToken callerToken, bool beforeAnswer)
    {
        Uri url = _client.ApiUrl;
        if (e is OperationCanceledException)
        {
            if (callerToken.IsCancellationRequested)
            {
                return e;
            }
            string how = _deadline ? "within" : "for";
            return new IpfsException(IpfsErrorKind.Timeout, url,
                $"the IPFS node at {url} did not answer {What} {how} {Seconds(_timeout)}", e);
        }
        string reason = Innermost(e);
        if (e is HttpRequestException && beforeAnswer)
        {
            return new IpfsException(IpfsErrorKind.Unreachable, url, $"cannot reach the IPFS node at {url} ({What}): {reason}", e);
        }
        if (e is HttpRequestException or IOException)
        {
            return new IpfsException(IpfsErrorKind.Unreachable, url, $"lost the IPFS node at {url} during {What}: {reason}", e);
        }
        return e;
    }

    public void Dispose() => _cts.Dispose();

    private static string Seconds(TimeSpan t) =>
        t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.###} s" : $"{t.TotalMilliseconds:0} ms";

    private static string Innermost(Exception e)
    {
        string reason = e.Message;
        for (Exception? inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            reason = inner.Message;
        }
        return reason;
    }

    private static (string Message, int? Code) ParseError(byte[] body)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                string message = IpfsClient.GetString(doc.RootElement, "Message") ?? "";
                int? code = doc.RootElement.TryGetProperty("Code", out JsonElement c) && c.TryGetInt32(out int n) ? n : null;
                return (message, code);
            }
        }
        catch (JsonException)
        {
            // Not JSON: the text itself is the message.
        }
        return (System.Text.Encoding.UTF8.GetString(body).Trim(), null);
    }
}
