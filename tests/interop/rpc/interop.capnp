# The interface our RPC is tested on against the C++ implementation (Debian libcapnp), both ways.
@0xb15a5006b68eaf5f;

interface Echo {
  echo @0 (text :Text) -> (text :Text);
  fail @1 (reason :Text) -> ();
  makeCounter @2 (start :UInt32) -> (counter :Counter);
  callBack @3 (callback :Echo, text :Text) -> (text :Text);
  slow @4 () -> ();
  big @5 (size :UInt32) -> (data :Data);
  getCalls @6 () -> (calls :UInt32);
  delayedCounter @7 (start :UInt32, delayMs :UInt32) -> (counter :Counter);  # counter is a promise for delayMs
  identity @8 (counter :Counter) -> (counter :Counter);                      # hands the caller's capability back
}

interface Counter {
  increment @0 () -> (value :UInt32);
}
