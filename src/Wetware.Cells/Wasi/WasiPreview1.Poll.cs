using System.Buffers.Binary;

namespace Wetware.Cells.Wasi;

/// <summary>
/// <c>poll_oneoff</c>: clock subscriptions and FD_READ/FD_WRITE on the streams (0, 1, 2, 4) and image files.
/// It blocks the cell's thread on the streams' pending operations, the earliest deadline and the kill signal
/// together: no spinning, and a kill ends the wait.
/// </summary>
internal static partial class WasiPreview1
{
    /// <summary>More subscriptions than this in one call is EINVAL (a bound on the host's copy of them).</summary>
    private const uint MaxSubscriptions = 4096;

    private const ushort HangupFlag = 1;

    private readonly record struct Subscription(ulong UserData, byte Type, int Fd, long Deadline, Errno ClockError);

    private static Errno PollOneoff(WasiContext ctx, GuestMemory mem, uint inPtr, uint outPtr, uint count, uint neventsPtr)
    {
        if (count == 0 || count > MaxSubscriptions)
        {
            return Errno.Inval;
        }
        if (!mem.TrySpan(inPtr, count * Layout.SubscriptionSize, out Span<byte> input)
            || !mem.Contains(outPtr, (ulong)count * Layout.EventSize)
            || !mem.Contains(neventsPtr, 4))
        {
            return Errno.Fault;
        }
        var subs = new Subscription[count];
        long now = WasiContext.MonotonicNow();
        for (int i = 0; i < subs.Length; i++)
        {
            Span<byte> s = input.Slice(i * Layout.SubscriptionSize, Layout.SubscriptionSize);
            ulong userData = BinaryPrimitives.ReadUInt64LittleEndian(s);
            byte type = s[8];
            switch (type)
            {
                case EventType.Clock:
                    subs[i] = ClockSubscription(userData, s, now);
                    break;
                case EventType.FdRead:
                case EventType.FdWrite:
                    subs[i] = new Subscription(userData, type, (int)BinaryPrimitives.ReadUInt32LittleEndian(s[16..]), 0, Errno.Success);
                    break;
                default:
                    return Errno.Inval;
            }
        }

        var waits = new List<Task>();
        while (true)
        {
            now = WasiContext.MonotonicNow();
            long earliest = long.MaxValue;
            waits.Clear();
            int ready = 0;
            foreach (Subscription sub in subs)
            {
                if (Check(ctx, sub, now, ref earliest, waits, out Errno error, out ulong nbytes, out ushort flags))
                {
                    mem.TrySpan(outPtr + (uint)(ready * Layout.EventSize), Layout.EventSize, out Span<byte> ev);
                    ev.Clear();
                    BinaryPrimitives.WriteUInt64LittleEndian(ev, sub.UserData);
                    BinaryPrimitives.WriteUInt16LittleEndian(ev[8..], (ushort)error);
                    ev[10] = sub.Type;
                    BinaryPrimitives.WriteUInt64LittleEndian(ev[16..], nbytes);
                    BinaryPrimitives.WriteUInt16LittleEndian(ev[24..], flags);
                    ready++;
                }
            }
            if (ready > 0)
            {
                mem.TryWriteU32(neventsPtr, (uint)ready);
                return Errno.Success;
            }
            int timeoutMs = Timeout.Infinite;
            if (earliest != long.MaxValue)
            {
                // Round up, so a wake-up never comes before the deadline and turns into a spin.
                long ms = (earliest - now + 999_999) / 1_000_000;
                timeoutMs = (int)Math.Clamp(ms, 1, int.MaxValue - 1);
            }
            try
            {
                if (waits.Count == 0)
                {
                    ctx.KillToken.WaitHandle.WaitOne(timeoutMs);
                    ctx.KillToken.ThrowIfCancellationRequested();
                }
                else if (!SpinBriefly(waits, earliest))
                {
                    Task.WaitAny([.. waits], timeoutMs, ctx.KillToken);
                }
            }
            catch (OperationCanceledException)
            {
                throw new CellKilledException();
            }
        }
    }

    /// <summary>How long poll spins on its streams before it blocks (see <see cref="SpinBriefly"/>).</summary>
    internal const long SpinNanoseconds = 30_000;

    /// <summary>
    /// Spins up to <see cref="SpinNanoseconds"/> for one of the waits to complete, yielding the core as it
    /// goes, before the thread blocks. A guest that just sent a call waits in poll for its answer, which
    /// usually comes within microseconds; waking a blocked thread costs about as much again on each side.
    /// An idle guest spins once, briefly, then blocks (the event loop polls again only when woken).
    /// </summary>
    private static bool SpinBriefly(List<Task> waits, long deadline)
    {
        long until = Math.Min(WasiContext.MonotonicNow() + SpinNanoseconds, deadline);
        var spin = new SpinWait();
        do
        {
            foreach (Task t in waits)
            {
                if (t.IsCompleted)
                {
                    return true;
                }
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
        while (WasiContext.MonotonicNow() < until);
        return false;
    }

    /// <summary>A clock subscription with its deadline on the monotonic clock (the one poll waits by).</summary>
    private static Subscription ClockSubscription(ulong userData, ReadOnlySpan<byte> s, long now)
    {
        uint clock = BinaryPrimitives.ReadUInt32LittleEndian(s[16..]);
        long timeout = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(s[24..]), long.MaxValue);
        bool absolute = (BinaryPrimitives.ReadUInt16LittleEndian(s[40..]) & 1) != 0;
        long deadline;
        switch (clock)
        {
            case 0:
                // Realtime: an absolute time becomes a distance from now.
                deadline = SaturatingAdd(now, Math.Max(0, absolute ? timeout - WasiContext.RealtimeNow() : timeout));
                break;
            case 1:
                deadline = absolute ? timeout : SaturatingAdd(now, timeout);
                break;
            default:
                return new Subscription(userData, EventType.Clock, -1, 0, Errno.Inval);
        }
        return new Subscription(userData, EventType.Clock, -1, deadline, Errno.Success);
    }

    /// <summary>Whether one subscription has an event now; if not, what to wait on for it.</summary>
    private static bool Check(WasiContext ctx, in Subscription sub, long now, ref long earliest, List<Task> waits, out Errno error, out ulong nbytes, out ushort flags)
    {
        error = Errno.Success;
        nbytes = 0;
        flags = 0;
        if (sub.Type == EventType.Clock)
        {
            if (sub.ClockError != Errno.Success)
            {
                error = sub.ClockError;
                return true;
            }
            if (now >= sub.Deadline)
            {
                return true;
            }
            earliest = Math.Min(earliest, sub.Deadline);
            return false;
        }
        Descriptor? d = ctx.Get(sub.Fd);
        if (sub.Type == EventType.FdRead)
        {
            GuestInput? input = d switch
            {
                InputDescriptor i => i.Input,
                RpcDescriptor r => r.Input,
                _ => null,
            };
            if (input is not null)
            {
                if (!input.IsReady(out long available))
                {
                    waits.Add(input.Pending!);
                    return false;
                }
                nbytes = (ulong)available;
                flags = input.IsAtEnd ? HangupFlag : (ushort)0;
                return true;
            }
            if (d is FileDescriptor file)
            {
                // Regular files are always ready; nbytes is what is left to read.
                nbytes = (ulong)Math.Max(0, file.File.Length - file.Position);
                return true;
            }
            error = Errno.Badf;
            return true;
        }
        GuestOutput? output = d switch
        {
            OutputDescriptor o => o.Output,
            RpcDescriptor r => r.Output,
            _ => null,
        };
        if (output is null)
        {
            error = Errno.Badf;
            return true;
        }
        if (!output.IsReady)
        {
            waits.Add(output.Pending!);
            return false;
        }
        flags = output.IsClosed ? HangupFlag : (ushort)0;
        return true;
    }

    private static long SaturatingAdd(long a, long b) => b > long.MaxValue - a ? long.MaxValue : a + b;
}
