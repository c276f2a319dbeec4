# Epochs, signing and the Membrane a guest grafts onto (shared/spec/interfaces.md,
# identity.md). Ordinals are fixed by the spec.
@0x9bce094a026970c4;

using CSharp = import "csharp.capnp";
$CSharp.namespace("Wetware.Schema");

using System = import "system.capnp";
using Ipfs = import "ipfs.capnp";

struct Epoch {
  seq @0 :UInt64;           # monotonic
  head @1 :Data;            # head bytes from the Atom contract
  adoptedBlock @2 :UInt64;  # block at which it was finalized; 0 without --stem
}

interface Signer {
  sign @0 (nonce :UInt64, epochSeq :UInt64) -> (sig :Data, publicKey :Data);
}

interface Identity {
  signer @0 (domain :Text) -> (signer :Signer);
  verify @1 (domain :Text, payload :Data, sig :Data, publicKey :Data) -> (valid :Bool);
}

interface Membrane {
  graft @0 (signer :Signer) -> (identity :Identity, host :System.Host, executor :System.Executor, ipfs :Ipfs.Client);
  epoch @1 () -> (epoch :Epoch);
}
