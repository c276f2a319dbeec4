# Host, Executor, Process and ByteStream: what a guest can do on its node
# (shared/spec/interfaces.md). Ordinals are fixed by the spec.
@0xbf5147b78c0e6a2f;

using CSharp = import "csharp.capnp";
$CSharp.namespace("Wetware.Schema");

struct PeerInfo {
  peerId @0 :Data;          # binary peer id (multihash bytes)
  addrs @1 :List(Data);     # binary multiaddrs
}

interface Host {
  id @0 () -> (peerId :Data);
  addrs @1 () -> (addrs :List(Data));
  peers @2 () -> (peers :List(PeerInfo));
  connect @3 (peerId :Data, addrs :List(Data)) -> ();
  executor @4 () -> (executor :Executor);
  dial @5 (peerId :Data, addrs :List(Data)) -> (cap :Capability);
}

interface Executor {
  runBytes @0 (wasm :Data, args :List(Text), env :List(Text)) -> (process :Process);
  echo @1 (message :Text) -> (response :Text);
  spawn @2 (wasm :Data, args :List(Text), env :List(Text), bootstrap :Capability) -> (process :Process);
}

interface Process {
  stdin @0 () -> (stream :ByteStream);
  stdout @1 () -> (stream :ByteStream);
  stderr @2 () -> (stream :ByteStream);
  wait @3 () -> (exitCode :Int32);
  kill @4 () -> ();
  bootstrap @5 () -> (cap :Capability);
}

interface ByteStream {
  read @0 (maxBytes :UInt32) -> (data :Data);
  write @1 (data :Data) -> ();
  close @2 () -> ();
}
