using Wetware.GuestSdk.Tests.Schema;

namespace Wetware.GuestSdk.Tests;

/// <summary>
/// The classic deadlock of this design (guest-abi.md) is both sides blocked writing large messages while
/// neither reads. The guest's loop writes only what fd 4 takes and keeps reading meanwhile.
/// </summary>
public sealed class LargeMessageTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task BothSidesSendingEightMebibyteMessagesAtOnceNeverDeadlock()
    {
        const int size = 8 << 20;
        await using GuestHarness g = await GuestHarness.StartAsync(fixture, "sdktest", ["big", size.ToString()]);
        // The guest sends its 8 MiB call as soon as it starts; the host sends its own at the same time.
        using var guest = new Tester.Client(await g.Connection!.BootstrapAsync().WaitAsync(GuestHarness.Timeout));
        byte[] data = new byte[size];
        new Random(8).NextBytes(data);
        long sum = data.Sum(b => (long)b);
        using (var r = await guest.SinkAsync(data).AsTask().WaitAsync(GuestHarness.Timeout))
        {
            Assert.Equal((ulong)size, r.Results.Size);
        }
        GuestResult result = await g.CloseAsync();

        Assert.True(result.ExitCode == 0, result.ToString());
        Dictionary<string, string> v = result.Values();
        Assert.Equal(size.ToString(), v["sent"]);
        Assert.Equal(size.ToString(), v["sunk"]);
        Assert.Equal(sum.ToString(), v["sum"]);
        // fd 4 took less than the guest gave it, and the guest kept reading meanwhile.
        Assert.True(long.Parse(v["partial"]) > 0, result.ToString());
        long expected = 0;
        for (int i = 0; i < size; i++)
        {
            expected += (byte)(i * 7);
        }
        Assert.Equal(expected, Interlocked.Read(ref g.Bootstrap.Tester.Sunk));
    }
}
