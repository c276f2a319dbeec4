// C++ reference client for the RPC interop tests: runs every case against a server at HOST:PORT
// and prints "ok <case>" or "FAIL <case>: <why>" per case; exits 1 if any failed.
#include "interop.capnp.h"
#include <capnp/ez-rpc.h>
#include <kj/async.h>
#include <kj/debug.h>
#include <cstdio>
#include <string>

class LocalCounter final : public Counter::Server {
 public:
  explicit LocalCounter(uint32_t start) : value(start) {}
  kj::Promise<void> increment(IncrementContext context) override {
    context.getResults().setValue(++value);
    return kj::READY_NOW;
  }
 private:
  uint32_t value;
};

class LocalEcho final : public Echo::Server {
 public:
  int calls = 0;
  kj::Promise<void> echo(EchoContext context) override {
    ++calls;
    context.getResults().setText(context.getParams().getText());
    return kj::READY_NOW;
  }
};

static int failures = 0;

template <typename F>
static void run(const char* name, F f) {
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { f(); })) {
    std::printf("FAIL %s: %s\n", name, e->getDescription().cStr());
    ++failures;
  } else {
    std::printf("ok %s\n", name);
  }
  std::fflush(stdout);
}

int main(int argc, char** argv) {
  KJ_REQUIRE(argc > 1, "usage: interop_client HOST:PORT");
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 64 * 1024 * 1024;
  capnp::EzRpcClient client(argv[1], 0, options);
  auto& ws = client.getWaitScope();
  Echo::Client echo = client.getMain<Echo>();

  run("echo", [&] {
    auto req = echo.echoRequest();
    req.setText("hello from C++");
    auto r = req.send().wait(ws);
    KJ_REQUIRE(r.getText() == "hello from C++", r.getText());
  });
  run("fail", [&] {
    auto req = echo.failRequest();
    req.setReason("on purpose");
    bool threw = false;
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { req.send().wait(ws); })) {
      threw = true;
      KJ_REQUIRE(std::string(e->getDescription().cStr()).find("on purpose") != std::string::npos, e->getDescription());
    }
    KJ_REQUIRE(threw, "no exception");
  });
  run("capability", [&] {
    auto req = echo.makeCounterRequest();
    req.setStart(10);
    auto counter = req.send().wait(ws).getCounter();
    KJ_REQUIRE(counter.incrementRequest().send().wait(ws).getValue() == 11);
    KJ_REQUIRE(counter.incrementRequest().send().wait(ws).getValue() == 12);
  });
  run("pipelined", [&] {
    auto req = echo.makeCounterRequest();
    req.setStart(100);
    auto promise = req.send();
    // Call on the result's capability before the result arrives.
    auto v = promise.getCounter().incrementRequest().send().wait(ws).getValue();
    KJ_REQUIRE(v == 101, v);
  });
  run("callback", [&] {
    auto local = kj::heap<LocalEcho>();
    LocalEcho& ref = *local;
    Echo::Client keep = kj::mv(local);  // our reference keeps the object alive after the server releases its own
    auto req = echo.callBackRequest();
    req.setCallback(keep);
    req.setText("ping");
    auto r = req.send().wait(ws);
    KJ_REQUIRE(r.getText() == "called back: ping", r.getText());
    KJ_REQUIRE(ref.calls == 1, ref.calls);
  });
  run("big", [&] {
    auto req = echo.bigRequest();
    req.setSize(8 * 1024 * 1024);
    auto r = req.send().wait(ws);
    auto d = r.getData();
    KJ_REQUIRE(d.size() == 8 * 1024 * 1024, d.size());
    for (size_t i = 0; i < d.size(); i += 4093) KJ_REQUIRE(d[i] == (kj::byte)(i * 7), i);
  });
  run("cancel", [&] {
    {
      auto pending = echo.slowRequest().send();
      // Dropping the promise cancels the call (sends Finish).
    }
    auto req = echo.echoRequest();
    req.setText("after cancel");
    KJ_REQUIRE(req.send().wait(ws).getText() == "after cancel");
  });
  run("promise", [&] {
    // The counter comes back as a promise (senderPromise) that resolves 50 ms later; calls wait for it.
    auto req = echo.delayedCounterRequest();
    req.setStart(5);
    req.setDelayMs(50);
    auto counter = req.send().wait(ws).getCounter();
    KJ_REQUIRE(counter.incrementRequest().send().wait(ws).getValue() == 6);
    KJ_REQUIRE(counter.incrementRequest().send().wait(ws).getValue() == 7);
  });
  run("embargo", [&] {
    // identity(our own counter): calls pipelined on the result go out and come back; calls after the
    // result arrives go straight to the local object, and must not overtake them (Disembargo).
    Counter::Client mine = kj::heap<LocalCounter>(1000);
    auto req = echo.identityRequest();
    req.setCounter(mine);
    auto promise = req.send();
    auto returned = promise.getCounter();
    auto p1 = returned.incrementRequest().send();
    auto p2 = returned.incrementRequest().send();
    promise.wait(ws);
    auto p3 = returned.incrementRequest().send();
    uint32_t v1 = p1.wait(ws).getValue(), v2 = p2.wait(ws).getValue(), v3 = p3.wait(ws).getValue();
    KJ_REQUIRE(v1 == 1001 && v2 == 1002 && v3 == 1003, v1, v2, v3);
  });
  if (argc > 2) {
    // Storm: pass and drop capabilities both ways, many times, one call at a time.
    long n = std::stol(argv[2]);
    run("storm", [&] {
      for (long i = 0; i < n; i++) {
        auto make = echo.makeCounterRequest();
        make.setStart(0);
        auto counter = make.send().wait(ws).getCounter();
        KJ_REQUIRE(counter.incrementRequest().send().wait(ws).getValue() == 1);
        auto cb = echo.callBackRequest();
        cb.setCallback(kj::heap<LocalEcho>());
        cb.setText("s");
        KJ_REQUIRE(cb.send().wait(ws).getText() == "called back: s");
      }
    });
  }
  return failures == 0 ? 0 : 1;
}
