// dial: reach another node's pid0 through Host.dial (shared/spec/network.md, "Capability export").
//
// Reads one line on stdin: PEER ADDR MESSAGE, where PEER is the remote's binary Peer ID and ADDR one of
// its binary multiaddrs, both in hex (what Host.id and Host.addrs give on that node). It dials the node,
// treats its export as an Executor and calls echo(MESSAGE) twice: pipelined on the dial's promise (sent
// before the dial returns), then on the settled capability. hello.c's export answers in capitals.
//
// Built by guest/sdk/build.sh into build/examples/dial.wasm.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "system.capnp.h"
#include "ww.h"

static size_t unhex(const char *hex, uint8_t *out, size_t max) {
  size_t n = 0;
  for (; hex[0] && hex[1] && n < max; hex += 2) {
    unsigned v;
    if (sscanf(hex, "%2x", &v) != 1) break;
    out[n++] = (uint8_t)v;
  }
  return n;
}

int main(void) {
  char line[4096], peer_hex[256], addr_hex[512], message[1024];
  if (!fgets(line, sizeof line, stdin) || sscanf(line, "%255s %511s %1023[^\n]", peer_hex, addr_hex, message) != 3) {
    fprintf(stderr, "usage: echo 'PEERHEX ADDRHEX MESSAGE' | dial\n");
    return 2;
  }
  uint8_t peer[128], addr[256];
  size_t peer_len = unhex(peer_hex, peer, sizeof peer), addr_len = unhex(addr_hex, addr, sizeof addr);

  ww_session s;
  if (ww_graft(&s) != 0) {
    fprintf(stderr, "graft failed: %s\n", ww_error());
    return 1;
  }
  ww_call *dial = ww_call_new(s.host, system_Host_TYPE_ID, system_Host_dial);
  system_Host_dial_Params_builder p = system_Host_dial_Params_init(ww_call_params(dial));
  system_Host_dial_Params_set_peerId(p, peer, peer_len);
  cp_lb_data(system_Host_dial_Params_init_addrs(p, 1), 0, addr, addr_len);
  ww_send(dial);

  // Pipelined: the echo leaves before the dial's answer, addressed to the capability it will return.
  ww_cap *promised = ww_pipeline(dial, 0);
  char *reply = ww_echo(promised, message);
  printf("pipelined: %s\n", reply ? reply : ww_error());
  free(reply);
  ww_cap_release(promised);

  int status = 0;
  if (ww_wait(dial) != 0) {
    printf("dial failed: %s\n", ww_call_error(dial));
    status = 1;
  } else {
    ww_cap *remote = ww_result_cap(dial, system_Host_dial_Results_get_cap(system_Host_dial_Results_read(ww_results(dial))));
    reply = ww_echo(remote, message);
    printf("direct: %s\n", reply ? reply : ww_error());
    status = reply ? 0 : 1;
    free(reply);
    ww_cap_release(remote);
  }
  ww_call_free(dial);
  ww_session_release(&s);
  return status;
}
