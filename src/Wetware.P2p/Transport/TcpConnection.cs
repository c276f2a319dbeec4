using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Wetware.P2p.Transport;

/// <summary>
/// A connected TCP socket as a duplex pipe (TCP_NODELAY on: multistream-select, Noise and Yamux exchange small
/// frames whose latency matters). Completing <see cref="Output"/> shuts down the sending side (the peer reads end
/// of stream); <see cref="Dispose"/> closes the socket, which ends every pending read and write.
/// </summary>
internal sealed class TcpConnection : IDuplexPipe, IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Action? _onDispose;
    private int _disposed;

    public TcpConnection(Socket socket, Action? onDispose = null)
    {
        _socket = socket;
        _onDispose = onDispose;
        socket.NoDelay = true;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        _stream = new NetworkStream(socket, ownsSocket: false);
        // Reads of up to 256 KiB: a busy connection takes several Noise frames per wake-up (64 KiB reads cost
        // ~20% more CPU per byte on a 256 MiB echo).
        Input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true));
        Output = new ShutdownWriter(PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 65536, leaveOpen: true)), this);
    }

    public IPEndPoint LocalEndPoint { get; }

    public IPEndPoint RemoteEndPoint { get; }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Opens a TCP connection; the caller owns it.</summary>
    public static async Task<TcpConnection> ConnectAsync(IPEndPoint endPoint, Action? onDispose, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new TcpConnection(socket, onDispose);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            socket.Dispose();
            onDispose?.Invoke();
            if (e is OperationCanceledException)
            {
                throw;
            }
            throw new P2pException(P2pError.Transport, $"tcp: connecting to {endPoint} failed: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        // Closing the socket fails any pending receive or send, so loops blocked on them end.
        _socket.Dispose();
        _stream.Dispose();
        _onDispose?.Invoke();
    }

    private void ShutdownSend()
    {
        try
        {
            if (!IsDisposed)
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed: nothing left to shut down.
        }
    }

    private sealed class ShutdownWriter(PipeWriter inner, TcpConnection owner) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override void Complete(Exception? exception = null)
        {
            try
            {
                inner.Complete(exception);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
            {
                // The final flush failed because the socket is gone; the connection is ending anyway.
            }
            owner.ShutdownSend();
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            try
            {
                await inner.CompleteAsync(exception).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
            {
                // As above.
            }
            owner.ShutdownSend();
        }
    }
}
