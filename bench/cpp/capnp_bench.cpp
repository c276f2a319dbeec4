// The C++ reference for bench/: the same message, built, read, packed and unpacked
// with Debian's libcapnp. Prints "<op> <ns per op>" lines, then the message sizes.
// Field values must match bench/Wetware.Capnp.Bench/BenchMessages.cs.
#include "bench.capnp.h"
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

static const char* kName = "benchmark message number one";
static const char* kDescription =
    "A message of about one kilobyte, with scalars, a few texts, a list of ten small structs "
    "and a nested struct, built, read, packed and unpacked by both implementations. The same values are "
    "filled on both sides, so the bytes are identical and the times can be compared one to one, as a ratio.";
static const char* kOwner = "wetware-dotnet benchmarks";
static const char* kLabels[10] = {"item zero", "item one", "item two", "item three", "item four",
                                  "item five", "item six", "item seven", "item eight", "item nine"};

static void fill(BenchMessage::Builder m) {
  m.setId(0x0123456789abcdefULL);
  m.setTimestamp(1764000000000LL);
  m.setCount(42);
  m.setRatio(0.625);
  m.setScore(98.5f);
  m.setActive(true);
  m.setFlagged(false);
  m.setKind(BenchMessage::Kind::GAMMA);
  m.setName(kName);
  m.setDescription(kDescription);
  m.setOwner(kOwner);
  auto items = m.initItems(10);
  for (int i = 0; i < 10; i++) {
    auto it = items[i];
    it.setIndex(i);
    it.setWeight(i * 1.5);
    it.setLabel(kLabels[i]);
  }
  auto n = m.initNested();
  n.setX(-7);
  n.setY(1 << 20);
  n.setNote("nested note text");
}

static long readAll(BenchMessage::Reader m) {
  long sum = (long)m.getId() + m.getTimestamp() + m.getCount() + (long)m.getRatio() + (long)m.getScore() +
             m.getActive() + m.getFlagged() + (int)m.getKind();
  sum += m.getName().size() + m.getDescription().size() + m.getOwner().size();
  for (auto it : m.getItems()) {
    sum += it.getIndex() + (long)it.getWeight() + it.getLabel().size();
  }
  auto n = m.getNested();
  sum += n.getX() + n.getY() + n.getNote().size();
  return sum;
}

template <typename F>
static double measure(F f) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 20000; i++) f();  // warm-up
  long iters = 1000;
  while (true) {  // calibrate to ~0.25 s
    auto t0 = clock::now();
    for (long i = 0; i < iters; i++) f();
    double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s > 0.25) break;
    iters *= 2;
  }
  std::vector<double> runs;
  for (int r = 0; r < 5; r++) {
    auto t0 = clock::now();
    for (long i = 0; i < iters; i++) f();
    runs.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count() / iters);
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

volatile long sink;

int main(int argc, char** argv) {
  std::vector<capnp::word> scratch(1024);
  std::vector<kj::byte> out(16384);

  // build: a message builder over a reused first segment, filled and written as a frame.
  double build = measure([&] {
    capnp::MallocMessageBuilder b(kj::arrayPtr(scratch.data(), scratch.size()));
    fill(b.initRoot<BenchMessage>());
    kj::ArrayOutputStream os(kj::arrayPtr(out.data(), out.size()));
    capnp::writeMessage(os, b);
    sink = os.getArray().size();
  });

  capnp::MallocMessageBuilder msg;
  fill(msg.initRoot<BenchMessage>());
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(msg);

  double read = measure([&] {
    capnp::FlatArrayMessageReader r(flat);
    sink = readAll(r.getRoot<BenchMessage>());
  });

  size_t packedSize = 0;
  double pack = measure([&] {
    kj::ArrayOutputStream os(kj::arrayPtr(out.data(), out.size()));
    capnp::writePackedMessage(os, msg);
    packedSize = os.getArray().size();
  });

  kj::ArrayOutputStream pos(kj::arrayPtr(out.data(), out.size()));
  capnp::writePackedMessage(pos, msg);
  kj::ArrayPtr<kj::byte> packed = pos.getArray();
  std::vector<capnp::word> unpackScratch(2048);
  double unpack = measure([&] {
    kj::ArrayInputStream is(packed);
    capnp::PackedMessageReader r(is, capnp::ReaderOptions(), kj::arrayPtr(unpackScratch.data(), unpackScratch.size()));
    sink = r.getRoot<BenchMessage>().getCount();
  });

  if (argc > 1) {  // the framed message, so the C# side can check it builds the same bytes
    FILE* f = std::fopen(argv[1], "wb");
    auto bytes = flat.asBytes();
    std::fwrite(bytes.begin(), 1, bytes.size(), f);
    std::fclose(f);
  }
  std::printf("build %.1f\nread %.1f\npack %.1f\nunpack %.1f\n", build, read, pack, unpack);
  std::printf("bytes %zu\npacked_bytes %zu\n", flat.asBytes().size(), packedSize);
  return 0;
}
