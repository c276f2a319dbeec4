using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Wetware.Capnp.Rpc.Bench;

/// <summary>
/// Which types the allocations are, sampled by the runtime's GC AllocationTick event (one event per
/// ~100 KB allocated, naming the type that crossed the mark): enough calls give each type's share.
/// </summary>
internal sealed class AllocationProfile : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new();
    private volatile bool _recording;

    public void Start() => _recording = true;

    public void Stop() => _recording = false;

    /// <summary>The sampled types, largest share first, as (type, share of all bytes sampled).</summary>
    public IEnumerable<(string Type, double Share)> Shares()
    {
        double total = _bytes.Values.Sum();
        return _bytes.OrderByDescending(kv => kv.Value).Select(kv => (kv.Key, kv.Value / total));
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_recording || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null)
        {
            return;
        }
        int type = e.PayloadNames.IndexOf("TypeName");
        int amount = e.PayloadNames.IndexOf("AllocationAmount64");
        if (type < 0 || amount < 0)
        {
            return;
        }
        _bytes.AddOrUpdate(e.Payload![type] as string ?? "?", Convert.ToInt64(e.Payload[amount], System.Globalization.CultureInfo.InvariantCulture), (_, v) => v + Convert.ToInt64(e.Payload[amount], System.Globalization.CultureInfo.InvariantCulture));
    }
}
