// C++ reference server for the RPC interop tests: serves Echo (interop.capnp) with EzRpcServer.
// Usage: interop_server PORT   (0 picks one; prints "port N" once listening)
#include "interop.capnp.h"
#include <capnp/ez-rpc.h>
#include <kj/async-io.h>
#include <kj/timer.h>
#include <kj/async.h>
#include <cstdio>
#include <string>

class CounterImpl final : public Counter::Server {
 public:
  explicit CounterImpl(uint32_t start) : value(start) {}
  kj::Promise<void> increment(IncrementContext context) override {
    context.getResults().setValue(++value);
    return kj::READY_NOW;
  }
 private:
  uint32_t value;
};

static kj::Timer* timer = nullptr;

class EchoImpl final : public Echo::Server {
 public:
  kj::Promise<void> echo(EchoContext context) override {
    ++calls;
    context.getResults().setText(context.getParams().getText());
    return kj::READY_NOW;
  }
  kj::Promise<void> fail(FailContext context) override {
    ++calls;
    KJ_FAIL_REQUIRE("requested failure", context.getParams().getReason());
  }
  kj::Promise<void> makeCounter(MakeCounterContext context) override {
    ++calls;
    context.getResults().setCounter(kj::heap<CounterImpl>(context.getParams().getStart()));
    return kj::READY_NOW;
  }
  kj::Promise<void> callBack(CallBackContext context) override {
    ++calls;
    auto params = context.getParams();
    auto req = params.getCallback().echoRequest();
    req.setText(std::string("called back: ") + params.getText().cStr());
    return req.send().then([context](capnp::Response<Echo::EchoResults>&& r) mutable {
      context.getResults().setText(r.getText());
    });
  }
  kj::Promise<void> slow(SlowContext context) override {
    ++calls;
    return kj::NEVER_DONE;
  }
  kj::Promise<void> big(BigContext context) override {
    ++calls;
    auto data = context.getResults().initData(context.getParams().getSize());
    for (size_t i = 0; i < data.size(); i++) data[i] = (kj::byte)(i * 7);
    return kj::READY_NOW;
  }
  kj::Promise<void> delayedCounter(DelayedCounterContext context) override {
    ++calls;
    auto params = context.getParams();
    uint32_t start = params.getStart();
    // The result is a promise capability: the C++ RPC system exports it as senderPromise, then Resolves it.
    Counter::Client promised = timer->afterDelay(params.getDelayMs() * kj::MILLISECONDS)
        .then([start]() -> Counter::Client { return kj::heap<CounterImpl>(start); });
    context.getResults().setCounter(kj::mv(promised));
    return kj::READY_NOW;
  }
  kj::Promise<void> identity(IdentityContext context) override {
    ++calls;
    context.getResults().setCounter(context.getParams().getCounter());
    return kj::READY_NOW;
  }
  kj::Promise<void> getCalls(GetCallsContext context) override {
    context.getResults().setCalls(calls);
    return kj::READY_NOW;
  }
 private:
  uint32_t calls = 0;
};

int main(int argc, char** argv) {
  std::string port = argc > 1 ? argv[1] : "0";
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 64 * 1024 * 1024;
  capnp::EzRpcServer server(kj::heap<EchoImpl>(), "127.0.0.1:" + port, 0, options);
  auto& waitScope = server.getWaitScope();
  timer = &server.getIoProvider().getTimer();
  uint p = server.getPort().wait(waitScope);
  std::printf("port %u\n", p);
  std::fflush(stdout);
  kj::NEVER_DONE.wait(waitScope);
}
