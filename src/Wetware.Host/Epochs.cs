using Wetware.Capnp.Rpc;

namespace Wetware.Host;

/// <summary>An epoch: <c>(seq, head, adoptedBlock)</c> (shared/spec/stem.md). Without <c>--stem</c> it is seq 0 for the whole run.</summary>
public sealed record EpochInfo(ulong Seq, ReadOnlyMemory<byte> Head, ulong AdoptedBlock)
{
    public static readonly EpochInfo Initial = new(0, ReadOnlyMemory<byte>.Empty, 0);
}

/// <summary>
/// The host's current epoch, which the Stem pipeline moves forward (tests move it directly), and the
/// epoch guard: capabilities made in one epoch fail with <c>staleEpoch: ...</c> once it has moved on.
/// </summary>
public sealed class EpochSource
{
    private EpochInfo _current;

    public EpochSource(EpochInfo? initial = null) => _current = initial ?? EpochInfo.Initial;

    public EpochInfo Current => Volatile.Read(ref _current);

    /// <summary>Raised after the epoch moved (on the caller's thread).</summary>
    public event Action<EpochInfo>? Changed;

    /// <summary>Moves to a later epoch; its seq must be greater than the current one's.</summary>
    public void Advance(EpochInfo next)
    {
        ArgumentNullException.ThrowIfNull(next);
        EpochInfo current;
        do
        {
            current = Current;
            if (next.Seq <= current.Seq)
            {
                throw new ArgumentException($"epoch {next.Seq} does not follow epoch {current.Seq}", nameof(next));
            }
        }
        while (Interlocked.CompareExchange(ref _current, next, current) != current);
        Changed?.Invoke(next);
    }

    /// <summary>A guarded capability for a server made now: calls pass while the host is in epoch <paramref name="seq"/>.</summary>
    internal Capability Guard(IRpcServer server, ulong seq)
    {
        using Capability inner = Capability.FromServer(server);
        return Guard(inner, seq);
    }

    /// <summary>A guarded reference to <paramref name="inner"/> (which keeps its own reference): calls pass while the host is in epoch <paramref name="seq"/>.</summary>
    public Capability Guard(Capability inner, ulong seq) => Capability.Guard(inner, () =>
    {
        ulong now = Current.Seq;
        return now == seq
            ? null
            : new RpcException(RpcErrorType.Failed, $"staleEpoch: this capability was made in epoch {seq} and the host is in epoch {now}; graft again");
    });
}
