# The message both benchmarks (C# and C++) build, read, pack and unpack:
# about 1 KiB of scalars, text, a list of structs and a nested struct.
@0xb1939891395d4134;

using CSharp = import "/csharp.capnp";
$CSharp.namespace("Wetware.Capnp.Bench.Schema");

struct BenchMessage {
  id @0 :UInt64;
  timestamp @1 :Int64;
  count @2 :Int32;
  ratio @3 :Float64;
  score @4 :Float32;
  active @5 :Bool;
  flagged @6 :Bool;
  kind @7 :Kind;
  name @8 :Text;
  description @9 :Text;
  owner @10 :Text;
  items @11 :List(Item);
  nested @12 :Nested;

  enum Kind { alpha @0; beta @1; gamma @2; }

  struct Item {
    index @0 :Int32;
    weight @1 :Float64;
    label @2 :Text;
  }

  struct Nested {
    x @0 :Int64;
    y @1 :Int64;
    note @2 :Text;
  }
}
