using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Wetware.Capnp.Rpc;

/// <summary>RPC transports over TCP sockets (TCP_NODELAY on: RPC messages are small and latency-bound).</summary>
public static class TcpTransport
{
    /// <summary>A duplex pipe over a connected socket; completing both ends closes the socket.</summary>
    public static IDuplexPipe FromSocket(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        socket.NoDelay = true;
        var stream = new NetworkStream(socket, ownsSocket: true);
        return new StreamDuplexPipe(stream);
    }

    /// <summary>Connects to <paramref name="endPoint"/>.</summary>
    public static async Task<IDuplexPipe> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return FromSocket(socket);
    }

    private sealed class StreamDuplexPipe : IDuplexPipe
    {
        public StreamDuplexPipe(Stream stream)
        {
            Input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
            Output = new ClosingWriter(PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true)), stream);
        }

        public PipeReader Input { get; }

        public PipeWriter Output { get; }
    }

    /// <summary>Closes the stream once the writer completes, so the peer sees the end of the connection.</summary>
    private sealed class ClosingWriter(PipeWriter inner, Stream stream) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            stream.Dispose();
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            await inner.CompleteAsync(exception).ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}
