// Grafts onto another node's exported Membrane (the standard kernel's daemon mode exports one, guarded
// by its /etc/authorized_keys) through Host.dial: without a signer, then with this node's signer. On a
// granted graft it calls the remote session's host.id and executor.echo. Reads one line on stdin:
// PEERHEX ADDRHEX (the remote's binary Peer ID and one binary multiaddr, in hex). Prints one line a step.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stem.capnp.h"
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

static void graft(ww_cap *membrane, ww_cap *signer, const char *label) {
  ww_call *c = ww_call_new(membrane, stem_Membrane_TYPE_ID, stem_Membrane_graft);
  stem_Membrane_graft_Params_builder p = stem_Membrane_graft_Params_init(ww_call_params(c));
  if (signer) stem_Membrane_graft_Params_set_signer(p, ww_call_cap(c, signer));
  if (ww_wait(c) != 0) {
    printf("%s: %s\n", label, ww_call_error(c));
    ww_call_free(c);
    return;
  }
  stem_Membrane_graft_Results r = stem_Membrane_graft_Results_read(ww_results(c));
  ww_cap *host = ww_result_cap(c, stem_Membrane_graft_Results_get_host(r));
  ww_cap *executor = ww_result_cap(c, stem_Membrane_graft_Results_get_executor(r));
  ww_call *id = ww_call_new(host, system_Host_TYPE_ID, system_Host_id);
  system_Host_id_Params_init(ww_call_params(id));
  printf("%s: grafted, remote host.id ", label);
  if (ww_wait(id) == 0) {
    cp_data d = system_Host_id_Results_get_peerId(system_Host_id_Results_read(ww_results(id)));
    for (uint32_t i = 0; i < d.len; i++) printf("%02x", d.ptr[i]);
  } else {
    printf("failed: %s", ww_call_error(id));
  }
  char *reply = ww_echo(executor, "over the network");
  printf(", echo %s\n", reply ? reply : ww_error());
  free(reply);
  ww_call_free(id);
  ww_cap_release(host);
  ww_cap_release(executor);
  ww_call_free(c);
}

int main(void) {
  char line[2048], peer_hex[256], addr_hex[512];
  if (!fgets(line, sizeof line, stdin) || sscanf(line, "%255s %511s", peer_hex, addr_hex) != 2) {
    fprintf(stderr, "usage: echo 'PEERHEX ADDRHEX' | remotegraft\n");
    return 2;
  }
  uint8_t peer[128], addr[256];
  size_t peer_len = unhex(peer_hex, peer, sizeof peer), addr_len = unhex(addr_hex, addr, sizeof addr);
  ww_session s;
  if (ww_graft(&s) != 0) {
    printf("graft: %s\n", ww_error());
    return 1;
  }
  ww_call *dial = ww_call_new(s.host, system_Host_TYPE_ID, system_Host_dial);
  system_Host_dial_Params_builder p = system_Host_dial_Params_init(ww_call_params(dial));
  system_Host_dial_Params_set_peerId(p, peer, peer_len);
  cp_lb_data(system_Host_dial_Params_init_addrs(p, 1), 0, addr, addr_len);
  if (ww_wait(dial) != 0) {
    printf("dial: %s\n", ww_call_error(dial));
    return 1;
  }
  ww_cap *remote = ww_result_cap(dial, system_Host_dial_Results_get_cap(system_Host_dial_Results_read(ww_results(dial))));
  graft(remote, NULL, "unsigned");
  ww_call *c = ww_call_new(s.identity, stem_Identity_TYPE_ID, stem_Identity_signer);
  stem_Identity_signer_Params_set_domain(stem_Identity_signer_Params_init(ww_call_params(c)), "ww-membrane-graft");
  ww_send(c);
  ww_cap *signer = ww_pipeline(c, 0);
  graft(remote, signer, "signed");
  ww_cap_release(signer);
  ww_call_free(c);
  ww_cap_release(remote);
  ww_call_free(dial);
  ww_session_release(&s);
  return 0;
}
