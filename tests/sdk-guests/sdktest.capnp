# The interface the guest SDK's end-to-end tests exercise between a C guest and a C# host
# (tests/Wetware.GuestSdk.Tests). Both sides serve it: the guest exports one as its bootstrap,
# and the host's test bootstrap answers it beside the Membrane.
@0xfe16495ff952f29b;

using CSharp = import "/csharp.capnp";
$CSharp.namespace("Wetware.GuestSdk.Tests.Schema");

interface Tester {
  echo @0 (text :Text) -> (text :Text);
  fail @1 (reason :Text) -> ();                          # fails with exactly this reason
  hold @2 (cap :Tester) -> ();                           # keeps a capability...
  give @3 () -> (cap :Tester);                           # ...and hands it back
  callBack @4 (cb :Tester, text :Text) -> (text :Text);  # cb.echo(text)
  sink @5 (data :Data) -> (size :UInt64);                # takes a large message
  promise @6 () -> (cap :Tester);                        # a promise, settled by the next settle
  settle @7 (cap :Tester) -> ();                         # null: to the host's own tester
  log @8 () -> (entries :List(Text));                    # what echo has seen, in order
  hang @9 () -> ();                                      # answers only once canceled (Finish)
}
