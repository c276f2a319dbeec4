// C++ reference echo client for the RPC benchmark: calls EchoBench.echo on HOST:PORT with a
// 16-byte text, first one call at a time, then with IN_FLIGHT calls outstanding, each for
// WARMUP seconds unmeasured and then SECONDS measured. Prints "sequential <calls/s>" and
// "pipelined <calls/s>"; a wrong reply prints "error ..." and exits 1.
// Usage: echo_client HOST:PORT [SECONDS] [WARMUP] [IN_FLIGHT]
#include "rpcbench.capnp.h"
#include <capnp/ez-rpc.h>
#include <kj/async.h>
#include <kj/debug.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using Clock = std::chrono::steady_clock;
static const char kText[] = "0123456789abcdef";  // 16 bytes, as in the C# benchmark

static void check(capnp::Response<EchoBench::EchoResults>& r) {
  KJ_REQUIRE(r.getText() == kText, "wrong echo reply", r.getText());
}

// One call at a time until `until`; returns the number of calls.
static long sequential(EchoBench::Client& echo, kj::WaitScope& ws, Clock::time_point until) {
  long n = 0;
  while (Clock::now() < until) {
    auto req = echo.echoRequest();
    req.setText(kText);
    auto r = req.send().wait(ws);
    check(r);
    ++n;
  }
  return n;
}

// `inFlight` lanes, each sending its next call as soon as its previous one returns.
struct Pipelined {
  EchoBench::Client& echo;
  Clock::time_point until;
  long n = 0;

  kj::Promise<void> lane() {
    if (Clock::now() >= until) return kj::READY_NOW;
    auto req = echo.echoRequest();
    req.setText(kText);
    return req.send().then([this](capnp::Response<EchoBench::EchoResults>&& r) {
      check(r);
      ++n;
      return lane();
    });
  }

  long run(kj::WaitScope& ws, int inFlight) {
    auto lanes = kj::heapArrayBuilder<kj::Promise<void>>(inFlight);
    for (int i = 0; i < inFlight; i++) lanes.add(lane());
    kj::joinPromises(lanes.finish()).wait(ws);
    return n;
  }
};

static Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

static double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: echo_client HOST:PORT [SECONDS] [WARMUP] [IN_FLIGHT]\n");
    return 2;
  }
  double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  double warmup = argc > 3 ? std::atof(argv[3]) : 0.5;
  int inFlight = argc > 4 ? std::atoi(argv[4]) : 100;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
    capnp::EzRpcClient client(argv[1]);
    auto& ws = client.getWaitScope();
    EchoBench::Client echo = client.getMain<EchoBench>();

    sequential(echo, ws, after(warmup));
    Clock::time_point start = Clock::now();
    long n = sequential(echo, ws, after(seconds));
    std::printf("sequential %.1f\n", n / secondsSince(start));
    std::fflush(stdout);

    Pipelined{echo, after(warmup)}.run(ws, inFlight);
    start = Clock::now();
    Pipelined measured{echo, after(seconds)};
    n = measured.run(ws, inFlight);
    std::printf("pipelined %.1f\n", n / secondsSince(start));
    std::fflush(stdout);
  })) {
    std::printf("error %s\n", e->getDescription().cStr());
    std::fflush(stdout);
    return 1;
  }
  return 0;
}
