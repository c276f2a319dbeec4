# The IPFS capability, after Kubo's CoreAPI (shared/spec/interfaces.md).
# Ordinals are fixed by the spec.
@0xba1bf6f9b41aac9a;

using CSharp = import "csharp.capnp";
$CSharp.namespace("Wetware.Schema");

interface Client {
  unixfs @0 () -> (api :UnixFS);
  block @1 () -> (api :Block);
  dag @2 () -> (api :Dag);
  name @3 () -> (api :Name);
  key @4 () -> (api :Key);
  pin @5 () -> (api :Pin);
  object @6 () -> (api :Object);
  swarm @7 () -> (api :Swarm);
  pubSub @8 () -> (api :PubSub);
  routing @9 () -> (api :Routing);
  resolvePath @10 (path :Text) -> (resolved :Text, remainder :List(Text));
  resolveNode @11 (path :Text) -> (node :Data);
}

interface UnixFS {
  cat @0 (path :Text) -> (data :Data);
  ls @1 (path :Text) -> (entries :List(Entry));
  add @2 (data :Data) -> (path :Text);

  struct Entry {
    name @0 :Text;
    size @1 :UInt64;
    type @2 :EntryType;
    cid @3 :Data;           # binary CID

    enum EntryType {
      file @0;
      directory @1;
    }
  }
}

interface Block {
  get @0 (cid :Data) -> (data :Data);
  put @1 (data :Data) -> (cid :Data);
}

interface Pin {
  add @0 (path :Text) -> ();
  rm @1 (path :Text) -> ();
  ls @2 () -> (paths :List(Text));
}

interface Dag {}
interface Name {}
interface Key {}
interface Object {}
interface Swarm {}
interface PubSub {}
interface Routing {}
