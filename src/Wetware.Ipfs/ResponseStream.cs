namespace Wetware.Ipfs;

/// <summary>
/// The body of a streaming answer (<c>cat</c>): bounded by a byte limit, each read bounded by the call's stall
/// timer, failures turned into <see cref="IpfsException"/>, and the node's late error (the X-Stream-Error trailer)
/// raised at the end instead of a silent short read. Disposing it ends the HTTP call.
/// </summary>
internal sealed class ResponseStream : Stream
{
    private readonly Call _call;
    private readonly HttpResponseMessage _response;
    private readonly Stream _body;
    private readonly long _maxBytes;
    private long _read;
    private bool _ended;

    public ResponseStream(Call call, HttpResponseMessage response, Stream body, long maxBytes)
    {
        _call = call;
        _response = response;
        _body = body;
        _maxBytes = maxBytes;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_ended || buffer.Length == 0)
        {
            return 0;
        }
        _call.Progress();
        int n;
        try
        {
            if (cancellationToken.CanBeCanceled)
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _call.Token);
                n = await _body.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
            }
            else
            {
                n = await _body.ReadAsync(buffer, _call.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not IpfsException)
        {
            throw _call.Translate(e, cancellationToken, beforeAnswer: false);
        }
        _call.Pause();
        if (n == 0)
        {
            _ended = true;
            _call.Client.CheckTrailer(_response, _call.What);
            return 0;
        }
        _read += n;
        if (_read > _maxBytes)
        {
            _ended = true;
            throw _call.Client.TooLarge(_call.What, _maxBytes, null);
        }
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Synchronous reads go through the same checks; the asynchronous path is the intended one.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _body.Dispose();
            _response.Dispose();
            _call.Dispose();
        }
        base.Dispose(disposing);
    }
}
