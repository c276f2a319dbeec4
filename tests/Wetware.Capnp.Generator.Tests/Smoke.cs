namespace Wetware.Capnp.Generator.Tests;

public class Smoke
{
    [Fact]
    public void Compiles() => Assert.Equal(42, Wetware.Capnp.Tests.Schema.TestCapnp.Answer);
}
