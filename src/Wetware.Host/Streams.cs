using System.Buffers;
using System.IO.Pipelines;
using Wetware.Capnp.Rpc;
using Wetware.Schema;

namespace Wetware.Host;

/// <summary>A child's stdout or stderr (shared/spec/interfaces.md, ByteStream): read waits for at least one byte; empty data is end of file.</summary>
internal sealed class ReadableStream(PipeReader reader, string name) : ByteStream.Server
{
    /// <summary>The largest read (shared/spec/README.md, Limits): a larger maxBytes is clamped, never an error.</summary>
    public const int MaxRead = 64 * 1024;

    private readonly SemaphoreSlim _one = new(1, 1);
    private bool _closed;

    public override async ValueTask ReadAsync(ByteStream.ReadParams.Reader @params, ByteStream.ReadResults.Builder results, CallContext context)
    {
        int max = (int)Math.Min(@params.MaxBytes, MaxRead);
        if (max == 0)
        {
            throw new RpcException(RpcErrorType.Failed, $"{name}: read of 0 bytes (maxBytes must be at least 1)");
        }
        // One read at a time: a pipe has one reader; later reads queue in call order.
        await _one.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            if (_closed)
            {
                results.SetData([]);
                return;
            }
            ReadResult r = await reader.ReadAsync(context.CancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = r.Buffer;
            if (buffer.IsEmpty)
            {
                reader.AdvanceTo(buffer.End);
                results.SetData([]); // end of file
                return;
            }
            ReadOnlySequence<byte> taken = buffer.Slice(0, Math.Min(buffer.Length, max));
            byte[] data = taken.ToArray();
            reader.AdvanceTo(taken.End);
            results.SetData(data);
        }
        finally
        {
            _one.Release();
        }
    }

    public override ValueTask WriteAsync(ByteStream.WriteParams.Reader @params, ByteStream.WriteResults.Builder results, CallContext context) =>
        throw new RpcException(RpcErrorType.Failed, $"{name} is readable: it takes no writes");

    public override async ValueTask CloseAsync(ByteStream.CloseParams.Reader @params, ByteStream.CloseResults.Builder results, CallContext context)
    {
        await _one.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            if (!_closed)
            {
                _closed = true;
                await reader.CompleteAsync().ConfigureAwait(false); // the child's further writes see EPIPE
            }
        }
        finally
        {
            _one.Release();
        }
    }
}

/// <summary>A child's stdin: write blocks while the child has not read what is buffered (back-pressure); close gives it end of file.</summary>
internal sealed class WritableStream(PipeWriter writer, string name) : ByteStream.Server
{
    private readonly SemaphoreSlim _one = new(1, 1);
    private bool _closed;

    public override ValueTask ReadAsync(ByteStream.ReadParams.Reader @params, ByteStream.ReadResults.Builder results, CallContext context) =>
        throw new RpcException(RpcErrorType.Failed, $"{name} is writable: it cannot be read");

    public override async ValueTask WriteAsync(ByteStream.WriteParams.Reader @params, ByteStream.WriteResults.Builder results, CallContext context)
    {
        await _one.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            if (_closed)
            {
                throw new RpcException(RpcErrorType.Failed, $"{name} is closed");
            }
            FlushResult r = await writer.WriteAsync(@params.Data.ToArray(), context.CancellationToken).ConfigureAwait(false);
            if (r.IsCompleted)
            {
                throw new RpcException(RpcErrorType.Failed, $"{name}: the process has exited");
            }
        }
        finally
        {
            _one.Release();
        }
    }

    public override async ValueTask CloseAsync(ByteStream.CloseParams.Reader @params, ByteStream.CloseResults.Builder results, CallContext context)
    {
        await _one.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            if (!_closed)
            {
                _closed = true;
                await writer.CompleteAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _one.Release();
        }
    }
}
