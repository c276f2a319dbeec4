namespace Wetware.Capnp.Rpc.Tests;

/// <summary>A call's cancellation makes its token source only when a server asks for the token.</summary>
public sealed class CallCancellationTests
{
    [Fact]
    public void ATokenFirstAskedForAfterTheCancelIsAlreadyCanceled()
    {
        var c = new CallCancellation();
        c.RequestCancel();
        Assert.True(c.IsCancellationRequested);
        Assert.True(c.Token.IsCancellationRequested);
    }

    [Fact]
    public void ATokenAskedForBeforeTheCancelIsCanceledByIt()
    {
        var c = new CallCancellation();
        CancellationToken token = c.Token;
        bool called = false;
        using CancellationTokenRegistration _ = token.Register(() => called = true);
        Assert.False(token.IsCancellationRequested);
        c.RequestCancel();
        Assert.True(token.IsCancellationRequested);
        Assert.True(called);
        Assert.Equal(token, c.Token);
    }

    [Fact]
    public void AfterDisposeTheTokenStillSaysWhetherTheCallWasCanceled()
    {
        var live = new CallCancellation();
        live.DisposeCancellation();
        Assert.False(live.Token.IsCancellationRequested);
        live.RequestCancel(); // too late: the call is over
        Assert.False(live.IsCancellationRequested);

        var canceled = new CallCancellation();
        canceled.RequestCancel();
        canceled.DisposeCancellation();
        Assert.True(canceled.Token.IsCancellationRequested);
    }

    [Fact]
    public void ACanceledSourceIsNotDisposedUnderARunningCancel()
    {
        var c = new CallCancellation();
        CancellationToken token = c.Token;
        c.RequestCancel();
        c.DisposeCancellation();
        // Still usable: a registration made late runs at once instead of throwing ObjectDisposedException.
        bool called = false;
        using CancellationTokenRegistration _ = token.Register(() => called = true);
        Assert.True(called);
    }
}
