# A schema that exercises every feature of the encoding and the generator:
# used by the conformance tests (with Debian's capnp tool) and the generator tests.
@0xaa84ff3c64b6eb1b;

using CSharp = import "/csharp.capnp";
$CSharp.namespace("Wetware.Capnp.Tests.Schema");

# --- annotations: generators must ignore them cleanly ---------------------
annotation note(*) :Text;
annotation flag(struct, field) :Void;
annotation meta(file, struct, interface, method, param, const) :Inner;   # a struct-valued annotation
annotation tags(field, enumerant, union, group) :List(Text);           # a list-valued annotation
$note("file-level annotation");
$meta(a = 1, b = "file");

# --- enums -------------------------------------------------------------------
enum Color $note("an enum") {
  red @0;
  green @1;
  blue @2 $note("last") $tags(["x", "y"]);
}

# --- every primitive, text, data, enum and nested struct ---------------------
struct Scalars $flag {
  void @0 :Void;
  bool @1 :Bool;
  int8 @2 :Int8;
  int16 @3 :Int16;
  int32 @4 :Int32;
  int64 @5 :Int64;
  uint8 @6 :UInt8;
  uint16 @7 :UInt16;
  uint32 @8 :UInt32;
  uint64 @9 :UInt64;
  float32 @10 :Float32;
  float64 @11 :Float64;
  text @12 :Text $flag;
  data @13 :Data;
  color @14 :Color;
  inner @15 :Inner;
}

struct Inner {
  a @0 :Int32;
  b @1 :Text;
  more @2 :List(Int16);
}

# --- default values of every kind (XOR encoding, pointer defaults) ------------
struct Defaults {
  bool @0 :Bool = true;
  int8 @1 :Int8 = -8;
  int16 @2 :Int16 = -1600;
  int32 @3 :Int32 = -320000;
  int64 @4 :Int64 = -6400000000;
  uint8 @5 :UInt8 = 200;
  uint16 @6 :UInt16 = 60000;
  uint32 @7 :UInt32 = 4000000000;
  uint64 @8 :UInt64 = 18000000000000000000;
  float32 @9 :Float32 = 3.5;
  float64 @10 :Float64 = -1.25e100;
  text @11 :Text = "default text";
  data @12 :Data = 0x"01 02 ff";
  color @13 :Color = blue;
  inner @14 :Inner = (a = 1, b = "x", more = [4, 5]);
  ints @15 :List(Int32) = [1, 2, 3];
  texts @16 :List(Text) = ["a", "bc"];
  structs @17 :List(Inner) = [(a = 7), (b = "y")];
  bools @18 :List(Bool) = [true, false, true];
  nestedDefault @19 :Nested = (inner = (more = [9]), list = [[1], [2, 3]]);
  floatNan @20 :Float64 = nan;
  floatInf @21 :Float32 = inf;
  negZero @22 :Float64 = -0.0;
  void @23 :Void = void;
  enums @24 :List(Color) = [green, blue];
  floats @25 :List(Float32) = [0.5, -1];
  datas @26 :List(Data) = ["ab", 0x"00 ff"];
  textLists @27 :List(List(Text)) = [["p"], [], ["q", "r"]];
  uint64s @28 :List(UInt64) = [0, 18446744073709551615];
}

struct Nested {
  inner @0 :Inner;
  list @1 :List(List(Int32));
}

# --- lists of every element kind -----------------------------------------------
struct Lists {
  voids @0 :List(Void);
  bools @1 :List(Bool);
  int8s @2 :List(Int8);
  int16s @3 :List(Int16);
  int32s @4 :List(Int32);
  int64s @5 :List(Int64);
  uint8s @6 :List(UInt8);
  uint16s @7 :List(UInt16);
  uint32s @8 :List(UInt32);
  uint64s @9 :List(UInt64);
  float32s @10 :List(Float32);
  float64s @11 :List(Float64);
  texts @12 :List(Text);
  datas @13 :List(Data);
  structs @14 :List(Inner);
  enums @15 :List(Color);
  intLists @16 :List(List(Int32));
  textLists @17 :List(List(Text));
  deep @18 :List(List(List(Int8)));
  structLists @19 :List(List(Inner));
  anys @20 :List(Scalars);
  emptyStructs @21 :List(Empty);
}

struct Empty {}

# --- unions and groups ------------------------------------------------------------
struct Shape {
  name @0 :Text;
  union {
    circle @1 :Float64;            # radius
    square @2 :Float64;            # side
    rectangle :group {              # a group inside the unnamed union
      width @3 :Float64;
      height @4 :Float64;
    }
    nothing @5 :Void;
    polygon :group {
      sides @6 :UInt8;
      style :union {                # a union inside a group inside a union
        filled @7 :Color;
        outline @8 :Text;
        dashed :group {
          dash @9 :UInt16;
          gap @10 :UInt16;
        }
      }
    }
  }
  position :group {
    x @11 :Int32;
    y @12 :Int32;
  }
  tag :union {                      # a named union
    none @13 :Void;
    label @14 :Text;
    number @15 :Int64;
  }
}

# --- AnyPointer, AnyStruct, capabilities ---------------------------------------------
struct Anything {
  any @0 :AnyPointer;
  anyStruct @1 :AnyStruct;
  cap @2 :Capability;
  calc @3 :Calculator;
  caps @4 :List(Calculator);
  anyList @5 :AnyList;
}

interface Calculator {
  evaluate @0 (expression :Text) -> (value :Float64);
  subscribe @1 (callback :Callback, every :UInt32) -> (handle :Capability);
  getSelf @2 () -> (self :Calculator);
  plain @3 Inner -> Inner;                                   # named structs as params/results
  stats @4 (window :UInt32 $note("seconds")) -> (stats :Stats, cached :Bool) $meta(a = 4);
  reset @5 () -> ();

  struct Stats {                                             # a struct declared inside an interface
    calls @0 :UInt64;
    mean @1 :Float64;
    histogram @2 :List(UInt32);
  }

  interface Callback {
    notify @0 (value :Float64) -> ();
  }
}

# Inheritance: a client and a server of ScientificCalculator also serve its superclasses' methods.
interface Named {
  name @0 () -> (name :Text);
}

interface ScientificCalculator extends(Calculator, Named) {
  sqrt @0 (value :Float64) -> (value :Float64);
  newPipeline @1 () -> (pipeline :Pipeline);                 # RPC-generated names in the schema
}

struct Pipeline {                                            # a struct named like the generated nested type
  calculator @0 :ScientificCalculator;
  inner @1 :Pipeline;
}

interface Server {                                           # an interface named like the generated server base
  client @0 () -> (server :Server);
}

# --- layout-compatible views of Anything -----------------------------------------------
# The text format cannot put a value in an AnyPointer, AnyStruct or AnyList field
# (`capnp convert` answers "Type mismatch; expected AnyPointer"). These structs have
# Anything's layout (same six pointer slots) with concrete types in the Any* slots, so
# a message written as one of them reads as Anything with `any`, `anyStruct` and
# `anyList` holding a struct, a list or text (conformance fixtures anything-*.txt).
struct AnythingWithStruct {
  any @0 :Inner;
  anyStruct @1 :Inner;
  cap @2 :Capability;
  calc @3 :Calculator;
  caps @4 :List(Calculator);
  anyList @5 :List(Inner);
}

struct AnythingWithList {
  any @0 :List(Int32);
  anyStruct @1 :Scalars;
  cap @2 :Capability;
  calc @3 :Calculator;
  caps @4 :List(Calculator);
  anyList @5 :List(Text);
}

struct AnythingWithText {
  any @0 :Text;
  anyStruct @1 :Empty;
  cap @2 :Capability;
  calc @3 :Calculator;
  caps @4 :List(Calculator);
  anyList @5 :List(List(Int8));
}

# --- schema evolution: one message read by an older and a newer version --------------
# V2 adds fields to the root and to list elements (so a V1 list of 1-word structs is
# read where 3-word structs with pointers are expected, and the reverse), upgrades
# List(Int32) and List(Text) to lists of structs whose first field has that type, and
# gives the new fields defaults that a V1 message must read as.
struct EvolutionV1 {
  id @0 :UInt32;
  items @1 :List(Item);
  numbers @2 :List(Int32);
  names @3 :List(Text);

  struct Item {
    a @0 :Int16;
  }
}

struct EvolutionV2 {
  id @0 :UInt32;
  items @1 :List(Item);
  numbers @2 :List(Number);
  names @3 :List(Name);
  extra @4 :Text = "v2 default";
  flag @5 :Bool = true;

  struct Item {
    a @0 :Int16;
    b @1 :Int64 = 7;
    label @2 :Text = "none";
    sub @3 :Item;
  }
  struct Number {
    value @0 :Int32;
    note @1 :Text;
  }
  struct Name {
    name @0 :Text;
    rank @1 :UInt8 = 1;
  }
}

# --- generics (erased to AnyPointer in C#) ------------------------------------------------
struct Box(T) {
  value @0 :T;
  label @1 :Text;
}

struct Pair(K, V) {
  key @0 :K;
  value @1 :V;
}

struct UsesGenerics {
  textBox @0 :Box(Text);
  innerBox @1 :Box(Inner);
  pair @2 :Pair(Text, List(Int32));
  boxes @3 :List(Box(Inner));
}

# --- recursion, nesting, scopes ---------------------------------------------------------
struct Tree {
  value @0 :Int32;
  children @1 :List(Tree);
  next @2 :Tree;

  struct Leaf {
    payload @0 :Data;
    struct Deeper {
      enum Kind { one @0; two @1; }
      kind @0 :Kind;
    }
  }
}

# --- names that collide with C# keywords or generated members ---------------------------
struct Keywords {
  class @0 :Int32;
  namespace @1 :Text;
  event @2 :Bool;
  string @3 :Text;
  object @4 :Int64;
  params @5 :List(Int32);
  reader @6 :Int32;
  builder @7 :Int32;
  equals @8 :Int32;
  toString @9 :Text;
  getHashCode @10 :Int32;
  keywords @11 :Int32;
  union {
    which @12 :Int32;
    struct @13 :Text;
  }
}

struct Shadows {
  # Type names that shadow built-in ones inside this scope.
  struct Text { value @0 :Int32; }
  struct Data { value @0 :Int32; }
  struct List { value @0 :Int32; }
  text @0 :Text;
  data @1 :Data;
  list @2 :List;
}

# --- constants of each kind -------------------------------------------------------------
const answer :Int32 = 42;
const bigUnsigned :UInt64 = 0xffffffffffffffff;
const pi :Float64 = 3.141592653589793;
const greeting :Text = "hello, wetware";
const blob :Data = 0x"de ad be ef";
const favorite :Color = green;
const origin :Inner = (a = -1, b = "origin", more = [1, 1, 2, 3, 5]);
const primes :List(UInt16) = [2, 3, 5, 7, 11, 13];
const words :List(Text) = ["alpha", "beta"];
const truth :Bool = true;
const nothing :Void = void;
const half :Float32 = 0.5;
const minInt64 :Int64 = -9223372036854775808;
const byteMax :UInt8 = 255;
const inners :List(Inner) = [(a = 1), (b = "two", more = [2])];
const matrix :List(List(Int32)) = [[1, 0], [0, 1]];
const shapeConst :Shape = (name = "unit", rectangle = (width = 1, height = 1), tag = (label = "c"));
const answerRef :Int32 = .answer;                          # a constant referring to another

struct WithConstants {
  const scoped :Int8 = -3;
  const scopedText :Text = "inside";
  value @0 :Int32 = .answer;
}
