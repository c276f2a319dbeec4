// C++ reference echo server for the RPC benchmark (bench/Wetware.Capnp.Rpc.Bench), on EzRpcServer.
// Usage: echo_server [PORT]   (0 or none picks one; prints "port N" once listening)
#include "rpcbench.capnp.h"
#include <capnp/ez-rpc.h>
#include <kj/async.h>
#include <cstdio>
#include <string>

class EchoImpl final : public EchoBench::Server {
 public:
  kj::Promise<void> echo(EchoContext context) override {
    context.getResults().setText(context.getParams().getText());
    return kj::READY_NOW;
  }
};

int main(int argc, char** argv) {
  std::string port = argc > 1 ? argv[1] : "0";
  capnp::EzRpcServer server(kj::heap<EchoImpl>(), "127.0.0.1:" + port);
  auto& waitScope = server.getWaitScope();
  uint p = server.getPort().wait(waitScope);
  std::printf("port %u\n", p);
  std::fflush(stdout);
  kj::NEVER_DONE.wait(waitScope);
}
