# The interface both RPC benchmarks (C# and C++) call: a short text echoed back.
@0xd6556e833f23879a;

using CSharp = import "/csharp.capnp";
$CSharp.namespace("Wetware.Capnp.Rpc.Bench.Schema");

interface EchoBench {
  echo @0 (text :Text) -> (text :Text);
}
