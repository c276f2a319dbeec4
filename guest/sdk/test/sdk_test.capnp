# A schema for the C runtime's tests: messages are made by the official `capnp convert` and read
# by the C reader, and built by the C builder and read back by `capnp convert binary:text`.
@0xe2b3c1f5a4d69781;

struct Point {
  x @0 :Int32;
  y @1 :Int32;
  label @2 :Text;
}

struct Shape {
  name @0 :Text;
  points @1 :List(Point);
  tags @2 :List(Text);
  data @3 :Data;
  flag @4 :Bool;
  scale @5 :Float64;
  nested @6 :Shape;
  id @7 :UInt64;
  counts @8 :List(UInt32);
  cap @9 :Capability;
}
