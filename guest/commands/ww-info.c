// /bin/ww-info: grafts onto its Membrane and prints the session's Peer ID (base58btc) and epoch.
#include <inttypes.h>
#include <stdio.h>

#include "../kernel/base58.h"
#include "system.capnp.h"
#include "ww.h"

int main(void) {
  ww_session s;
  if (ww_graft(&s) != 0) {
    fprintf(stderr, "ww-info: graft failed: %s\n", ww_error());
    return 1;
  }
  ww_call *c = ww_call_new(s.host, system_Host_TYPE_ID, system_Host_id);
  system_Host_id_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) {
    fprintf(stderr, "ww-info: host.id failed: %s\n", ww_call_error(c));
    return 1;
  }
  cp_data id = system_Host_id_Results_get_peerId(system_Host_id_Results_read(ww_results(c)));
  char text[256];
  if (!b58_encode(id.ptr, id.len, text, sizeof text)) {
    fprintf(stderr, "ww-info: a Peer ID of %" PRIu32 " bytes is too long\n", id.len);
    return 1;
  }
  ww_call_free(c);
  ww_epoch e;
  if (ww_membrane_epoch(s.membrane, &e) != 0) {
    fprintf(stderr, "ww-info: epoch failed: %s\n", ww_error());
    return 1;
  }
  printf("Peer ID: %s\n", text);
  printf("epoch: %" PRIu64 "\n", e.seq);
  ww_session_release(&s);
  return 0;
}
