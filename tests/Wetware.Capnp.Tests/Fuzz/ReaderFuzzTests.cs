using Wetware.Capnp.Tests.Infrastructure;

namespace Wetware.Capnp.Tests.Fuzz;

/// <summary>
/// Bounded fuzzing in CI: valid messages with random bytes flipped, and pure garbage, are
/// read all the way down. Only our typed exceptions may come out; each read ends (limits
/// bound the work); nothing else escapes.
/// </summary>
public class ReaderFuzzTests
{
    private const int Iterations = 4000;

    /// <returns>True when the bytes read as a message, false when rejected with a typed error.</returns>
    private static bool ReadEverything(byte[] bytes, ReaderOptions options)
    {
        try
        {
            using MessageReader m = Framing.Read(bytes, out _, options);
            Dump.Of(m);
            Canonical.IsCanonical(m);
            m.ResetTraversalLimit();
            Canonical.Canonicalize(m.GetRoot());
            return true;
        }
        catch (CapnpException)
        {
            return false;
        }
    }

    [Fact]
    public void MutatedMessagesOnlyRaiseCapnpExceptions()
    {
        var rng = new Random(20261125);
        var options = new ReaderOptions { TraversalLimitWords = 64 * 1024 };
        int accepted = 0;
        for (int i = 0; i < Iterations; i++)
        {
            using MessageBuilder b = RandomMessages.Build(rng.Next(), rng.Next(2) == 0 ? 2 : 1024);
            byte[] bytes = Framing.ToArray(b);
            int flips = rng.Next(1, 6);
            for (int f = 0; f < flips; f++)
            {
                int at = rng.Next(bytes.Length);
                bytes[at] = rng.Next(3) switch
                {
                    0 => (byte)rng.Next(256),
                    1 => (byte)(bytes[at] ^ (1 << rng.Next(8))),
                    _ => 0xFF,
                };
            }
            accepted += ReadEverything(bytes, options) ? 1 : 0;
        }
        // Both outcomes must occur, or the mutations are not reaching the pointer code.
        Assert.InRange(accepted, 1, Iterations - 1);
    }

    [Fact]
    public void RandomGarbageOnlyRaisesCapnpExceptions()
    {
        var rng = new Random(7);
        var options = new ReaderOptions { TraversalLimitWords = 64 * 1024 };
        for (int i = 0; i < Iterations; i++)
        {
            var bytes = new byte[rng.Next(0, 25) * 8 + rng.Next(2) * rng.Next(8)];
            rng.NextBytes(bytes);
            if (bytes.Length >= 8 && rng.Next(4) != 0)
            {
                // Mostly a plausible one-segment table, so the garbage reaches the pointer code.
                BitConverter.TryWriteBytes(bytes, 0u);
                BitConverter.TryWriteBytes(bytes.AsSpan(4), (uint)(bytes.Length / 8 - 1));
            }
            // Random pointers almost never land in bounds: what matters is that each input ends in a value or a typed error.
            _ = ReadEverything(bytes, options);
        }
    }
}
