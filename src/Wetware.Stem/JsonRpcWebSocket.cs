using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;

namespace Wetware.Stem;

/// <summary>A subscription notification: <c>{"method":"eth_subscription","params":{"subscription":id,"result":...}}</c>.</summary>
internal readonly record struct JsonRpcNotification(string Subscription, JsonElement Result);

/// <summary>A JSON-RPC error answer from the node.</summary>
internal sealed class JsonRpcException(int code, string message) : Exception($"JSON-RPC error {code}: {message}")
{
    public int Code { get; } = code;
}

/// <summary>
/// A small JSON-RPC 2.0 client over one WebSocket (Nethereum's streaming client is not available here): calls
/// with ids, and <c>eth_subscription</c> notifications in arrival order. One connection per instance; when the
/// socket closes or fails, pending calls fail and <see cref="Notifications"/> completes with the reason.
/// </summary>
internal sealed class JsonRpcWebSocket : IAsyncDisposable
{
    /// <summary>Bound on one incoming message; a node sends headers and single logs, far below this.</summary>
    public const int MaxMessageBytes = 16 << 20;

    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Channel<JsonRpcNotification> _notifications = Channel.CreateUnbounded<JsonRpcNotification>(new() { SingleReader = true, SingleWriter = true });
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _closed = new();
    private Task _receiveLoop = Task.CompletedTask;
    private long _nextId;

    private JsonRpcWebSocket(ClientWebSocket socket) => _socket = socket;

    public ChannelReader<JsonRpcNotification> Notifications => _notifications.Reader;

    public static async Task<JsonRpcWebSocket> ConnectAsync(Uri uri, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        // Pings keep a quiet connection open through middleboxes; a dead peer shows as a failed receive.
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(15);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(uri, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"WebSocket connect to {uri} timed out after {timeout.TotalSeconds:0.#} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var client = new JsonRpcWebSocket(socket);
        client._receiveLoop = Task.Run(client.ReceiveLoopAsync, CancellationToken.None);
        return client;
    }

    /// <summary>Calls <paramref name="method"/>; the result is a clone that outlives the message.</summary>
    public async Task<JsonElement> CallAsync(string method, Action<Utf8JsonWriter> writeParams, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        try
        {
            var buffer = new ArrayBufferWriter<byte>(256);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("jsonrpc", "2.0");
                writer.WriteNumber("id", id);
                writer.WriteString("method", method);
                writer.WritePropertyName("params");
                writer.WriteStartArray();
                writeParams(writer);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
            cts.CancelAfter(timeout);
            try
            {
                await _sendLock.WaitAsync(cts.Token).ConfigureAwait(false);
                try
                {
                    await _socket.SendAsync(buffer.WrittenMemory, WebSocketMessageType.Text, endOfMessage: true, cts.Token).ConfigureAwait(false);
                }
                finally
                {
                    _sendLock.Release();
                }
                return await answer.Task.WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw _closed.IsCancellationRequested
                    ? new WebSocketException(WebSocketError.ConnectionClosedPrematurely, $"the WebSocket closed during {method}")
                    : new TimeoutException($"{method} over WebSocket got no answer within {timeout.TotalSeconds:0.#} s");
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary><c>eth_subscribe</c>; returns the subscription id.</summary>
    public async Task<string> SubscribeAsync(Action<Utf8JsonWriter> writeParams, TimeSpan timeout, CancellationToken cancellationToken)
    {
        JsonElement result = await CallAsync("eth_subscribe", writeParams, timeout, cancellationToken).ConfigureAwait(false);
        return result.ValueKind == JsonValueKind.String
            ? result.GetString()!
            : throw new JsonRpcException(0, $"eth_subscribe answered {result.GetRawText()}, not a subscription id");
    }

    private async Task ReceiveLoopAsync()
    {
        Exception? reason = null;
        var message = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                message.ResetWrittenCount();
                ValueWebSocketReceiveResult result;
                do
                {
                    Memory<byte> space = message.GetMemory(4096);
                    result = await _socket.ReceiveAsync(space, _closed.Token).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, $"the node closed the WebSocket ({_socket.CloseStatus} {_socket.CloseStatusDescription})");
                    }
                    message.Advance(result.Count);
                    if (message.WrittenCount > MaxMessageBytes)
                    {
                        throw new InvalidDataException($"a WebSocket message exceeded {MaxMessageBytes} bytes");
                    }
                }
                while (!result.EndOfMessage);
                Dispatch(message.WrittenSpan);
            }
        }
        catch (Exception e)
        {
            reason = e;
        }
        finally
        {
            _closed.Cancel();
            var closed = new WebSocketException(WebSocketError.ConnectionClosedPrematurely, $"the WebSocket closed: {reason?.Message}", reason);
            foreach (TaskCompletionSource<JsonElement> pending in _pending.Values)
            {
                pending.TrySetException(closed);
            }
            _notifications.Writer.TryComplete(closed);
        }
    }

    private void Dispatch(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using JsonDocument doc = JsonDocument.ParseValue(ref reader);
        JsonElement root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("a WebSocket message was not a JSON object");
        }
        if (root.TryGetProperty("id", out JsonElement idElement) && idElement.ValueKind == JsonValueKind.Number && idElement.TryGetInt64(out long id))
        {
            if (!_pending.TryGetValue(id, out TaskCompletionSource<JsonElement>? answer))
            {
                return; // the caller gave up (timeout); the late answer has no one to go to
            }
            if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object)
            {
                int code = error.TryGetProperty("code", out JsonElement c) && c.TryGetInt32(out int n) ? n : 0;
                string text = error.TryGetProperty("message", out JsonElement m) ? m.ToString() : error.GetRawText();
                answer.TrySetException(new JsonRpcException(code, text));
            }
            else
            {
                answer.TrySetResult(root.TryGetProperty("result", out JsonElement r) ? r.Clone() : default);
            }
            return;
        }
        if (root.TryGetProperty("method", out JsonElement method) && method.ValueEquals("eth_subscription")
            && root.TryGetProperty("params", out JsonElement p) && p.ValueKind == JsonValueKind.Object
            && p.TryGetProperty("subscription", out JsonElement sub) && p.TryGetProperty("result", out JsonElement res))
        {
            _notifications.Writer.TryWrite(new JsonRpcNotification(sub.ToString(), res.Clone()));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _closed.Cancel();
        _socket.Abort();
        try
        {
            await _receiveLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // the loop records its own reason; nothing more to report at disposal
        }
        _socket.Dispose();
        _closed.Dispose();
        _sendLock.Dispose();
    }
}
