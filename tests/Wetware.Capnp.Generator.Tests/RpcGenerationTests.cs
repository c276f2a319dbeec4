using Wetware.Capnp.Rpc;
using Wetware.Capnp.Tests.Schema;

namespace Wetware.Capnp.Generator.Tests;

/// <summary>Generated RPC code for test.capnp: inheritance, named param structs, colliding names.</summary>
public class RpcGenerationTests
{
    private sealed class Scientific : ScientificCalculator.Server
    {
        public override ValueTask SqrtAsync(ScientificCalculator.SqrtParams.Reader @params, ScientificCalculator.SqrtResults.Builder results, CallContext context)
        {
            results.Value = Math.Sqrt(@params.Value);
            return ValueTask.CompletedTask;
        }

        public override ValueTask EvaluateAsync(Calculator.EvaluateParams.Reader @params, Calculator.EvaluateResults.Builder results, CallContext context)
        {
            results.Value = double.Parse(@params.Expression.ToString(), System.Globalization.CultureInfo.InvariantCulture);
            return ValueTask.CompletedTask;
        }

        public override ValueTask NameAsync(Named.NameParams.Reader @params, Named.NameResults.Builder results, CallContext context)
        {
            results.SetName("scientific");
            return ValueTask.CompletedTask;
        }

        public override ValueTask PlainAsync(Inner.Reader @params, Inner.Builder results, CallContext context)
        {
            results.A = @params.A + 1;
            return ValueTask.CompletedTask;
        }

        public override ValueTask NewPipelineAsync(ScientificCalculator.NewPipelineParams.Reader @params, ScientificCalculator.NewPipelineResults.Builder results, CallContext context)
        {
            Pipeline.Builder p = results.InitPipeline();
            using var self = ScientificCalculator.Client.FromServer(this);
            p.InitInner().Calculator = context.AddResultCapability(self);
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task ClientsCallOwnAndInheritedMethodsAndServersDispatchThem()
    {
        using var calc = ScientificCalculator.Client.FromServer(new Scientific());
        using (Response<ScientificCalculator.SqrtResults.Reader> r = await calc.SqrtAsync(9))
        {
            Assert.Equal(3.0, r.Results.Value);
        }
        using (Response<Calculator.EvaluateResults.Reader> r = await calc.EvaluateAsync("2.5"))
        {
            Assert.Equal(2.5, r.Results.Value);
        }
        using (Response<Named.NameResults.Reader> r = await calc.NameAsync())
        {
            Assert.Equal("scientific", r.Results.Name.ToString());
        }

        // A method whose params and results are a named struct: no convenience form, a request builder.
        var plain = calc.NewPlain();
        Inner.Builder p = plain.Params; // builders are structs: set fields through a local
        p.A = 41;
        using (Response<Inner.Reader> r = await plain.Send())
        {
            Assert.Equal(42, r.Results.A);
        }

        // Not overridden: unimplemented, naming the method.
        var e = await Assert.ThrowsAsync<RpcException>(async () => await calc.ResetAsync());
        Assert.Equal(RpcErrorType.Unimplemented, e.Type);
        Assert.Contains("Calculator.reset", e.Reason);
    }

    [Fact]
    public async Task PipelinesFollowStructPathsInTheResults()
    {
        using var calc = ScientificCalculator.Client.FromServer(new Scientific());
        // newPipeline() -> (pipeline :Pipeline); pipeline.inner.calculator is the server itself.
        using ScientificCalculator.Client inner = calc.NewPipelineAsync().Pipeline.Pipeline_.Inner.GetCalculator();
        using Response<ScientificCalculator.SqrtResults.Reader> r = await inner.SqrtAsync(16);
        Assert.Equal(4.0, r.Results.Value);
    }

    [Fact]
    public void NamesThatCollideWithGeneratedTypesTakeAnUnderscore()
    {
        // interface Server gets Server.Server_ and Server.Client; struct Pipeline gets Pipeline.Pipeline_.
        Assert.True(typeof(IRpcServer).IsAssignableFrom(typeof(Wetware.Capnp.Tests.Schema.Server.Server_)));
        Assert.True(typeof(CapabilityClient).IsAssignableFrom(typeof(Wetware.Capnp.Tests.Schema.Server.Client)));
        Assert.NotNull(typeof(Pipeline.Pipeline_));
    }
}
