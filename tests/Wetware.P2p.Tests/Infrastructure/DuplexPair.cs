using System.IO.Pipelines;

namespace Wetware.P2p.Tests;

/// <summary>Two ends of an in-memory byte stream, for testing a layer alone.</summary>
internal sealed class DuplexPair
{
    private readonly Pipe _aToB = new(new PipeOptions(useSynchronizationContext: false, pauseWriterThreshold: 0));
    private readonly Pipe _bToA = new(new PipeOptions(useSynchronizationContext: false, pauseWriterThreshold: 0));

    public DuplexPair()
    {
        A = new End(_bToA.Reader, _aToB.Writer);
        B = new End(_aToB.Reader, _bToA.Writer);
    }

    public IDuplexPipe A { get; }

    public IDuplexPipe B { get; }

    private sealed record End(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
