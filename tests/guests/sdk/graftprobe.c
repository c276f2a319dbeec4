// Runs the standard kernel (/kernel.wasm of its image) as a child in daemon mode and grafts onto the
// Membrane it exports (Process.bootstrap): without a signer, with this node's signer (the child has no
// /etc/authorized_keys, so nobody is authorized), then asks its epoch; then ends it by closing its stdin.
// Prints one line per step.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stem.capnp.h"
#include "system.capnp.h"
#include "ww.h"

static void graft(ww_cap *membrane, ww_cap *signer, const char *label) {
  ww_call *c = ww_call_new(membrane, stem_Membrane_TYPE_ID, stem_Membrane_graft);
  stem_Membrane_graft_Params_builder p = stem_Membrane_graft_Params_init(ww_call_params(c));
  if (signer) stem_Membrane_graft_Params_set_signer(p, ww_call_cap(c, signer));
  ww_send(c);
  if (ww_wait(c) == 0) printf("%s: grafted\n", label);
  else printf("%s: %s\n", label, ww_call_error(c));
  ww_call_free(c);
}

int main(void) {
  ww_session s;
  if (ww_graft(&s) != 0) {
    printf("graft: %s\n", ww_error());
    return 1;
  }
  static uint8_t wasm[8 << 20];
  FILE *f = fopen("/kernel.wasm", "rb");
  if (!f) {
    printf("no /kernel.wasm\n");
    return 1;
  }
  size_t len = fread(wasm, 1, sizeof wasm, f);
  fclose(f);
  const char *none[] = {NULL};
  ww_process k;
  if (ww_run_bytes(s.executor, wasm, len, none, none, &k) != 0) {
    printf("runBytes: %s\n", ww_error());
    return 1;
  }
  // Its ready line says it serves.
  static char err[65536];
  size_t got = 0;
  while (!strstr(err, "\"ready\"") && got < sizeof err - 1) {
    ssize_t n = ww_stream_read(k.stderr_stream, err + got, sizeof err - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    err[got] = 0;
  }
  printf("ready: %s\n", strstr(err, "\"ready\"") ? "yes" : err);
  ww_cap *exported = ww_process_bootstrap(&k);
  if (!exported) {
    printf("bootstrap: %s\n", ww_error());
    return 1;
  }
  graft(exported, NULL, "unsigned");

  ww_call *c = ww_call_new(s.identity, stem_Identity_TYPE_ID, stem_Identity_signer);
  stem_Identity_signer_Params_set_domain(stem_Identity_signer_Params_init(ww_call_params(c)), "ww-membrane-graft");
  ww_send(c);
  ww_cap *signer = ww_pipeline(c, 0);
  graft(exported, signer, "signed");
  ww_cap_release(signer);
  ww_call_free(c);

  ww_epoch e;
  if (ww_membrane_epoch(exported, &e) == 0) printf("epoch: %" PRIu64 "\n", e.seq);
  else printf("epoch: %s\n", ww_error());

  ww_stream_close(k.stdin_stream);
  int32_t code = -1;
  ww_process_wait(&k, &code);
  printf("exit: %d\n", (int)code);
  ww_cap_release(exported);
  ww_process_release(&k);
  ww_session_release(&s);
  return 0;
}
