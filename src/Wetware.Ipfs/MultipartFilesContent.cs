using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Wetware.Ipfs;

/// <summary>
/// A multipart/form-data body that streams its parts (files are opened one at a time as the body is written, so
/// a tree of any size takes one file handle and one buffer). Each part is a file or a directory named by its
/// path, the way Kubo's own client sends a tree.
/// </summary>
internal sealed class MultipartFilesContent : HttpContent
{
    private const int BufferSize = 256 << 10;
    private readonly IReadOnlyList<Part> _parts;
    private readonly string _boundary = "ww-" + Guid.NewGuid().ToString("N");
    private readonly Call? _call;
    private bool _sent;

    /// <param name="call">Whose stall timer runs while a write waits on the node, and only then.</param>
    public MultipartFilesContent(IReadOnlyList<Part> parts, Call? call = null)
    {
        _parts = parts;
        _call = call;
        Headers.ContentType = new MediaTypeHeaderValue("multipart/form-data");
        Headers.ContentType.Parameters.Add(new NameValueHeaderValue("boundary", _boundary));
    }

    /// <summary>One part: a directory (no content), bytes in memory, or a stream opened when it is its turn.</summary>
    internal sealed record Part(string Path, bool IsDirectory, Func<Stream>? Open, ReadOnlyMemory<byte> Memory, bool Reopenable)
    {
        public static Part Directory(string path) => new(path, true, null, default, true);

        public static Part FromMemory(string path, ReadOnlyMemory<byte> data) => new(path, false, null, data, true);

        public static Part FromFile(string path, string localPath) =>
            new(path, false, () => new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan), null, true);

        /// <summary>A caller's stream: read once, left open.</summary>
        public static Part FromStream(string path, Stream stream) => new(path, false, () => new LeaveOpen(stream), default, false);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // HttpClient may send a body again when a kept-alive connection turns out closed; a caller's stream
        // cannot be read twice, so that attempt fails instead of sending a truncated file.
        if (_sent && _parts.Any(p => !p.Reopenable))
        {
            throw new IOException("the request body was a one-time stream and cannot be sent again");
        }
        _sent = true;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            foreach (Part part in _parts)
            {
                await WriteAsync(stream, Header(part), cancellationToken).ConfigureAwait(false);
                if (part.Open is { } open)
                {
                    await using Stream source = open();
                    int n;
                    while ((n = await source.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        await WriteAsync(stream, buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    }
                }
                else if (!part.Memory.IsEmpty)
                {
                    await WriteAsync(stream, part.Memory, cancellationToken).ConfigureAwait(false);
                }
                await WriteAsync(stream, "\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            }
            await WriteAsync(stream, Encoding.ASCII.GetBytes($"--{_boundary}--\r\n"), cancellationToken).ConfigureAwait(false);
            // Now the answer is what we wait for.
            _call?.Progress();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask WriteAsync(Stream stream, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        _call?.Progress();
        await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        _call?.Pause();
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    private byte[] Header(Part part)
    {
        // The path is percent-encoded, '/' included: Kubo reads the name with url.QueryUnescape after Go's
        // multipart package has cut it to its last '/'-separated element, and js-ipfs with decodeURIComponent.
        // Written by hand because .NET leaves a token-like filename unquoted, and js-ipfs only finds a quoted one.
        string type = part.IsDirectory ? "application/x-directory" : "application/octet-stream";
        return Encoding.ASCII.GetBytes(
            $"--{_boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{Uri.EscapeDataString(part.Path)}\"\r\nContent-Type: {type}\r\n\r\n");
    }

    private sealed class LeaveOpen(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
