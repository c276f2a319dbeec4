// Daemon mode (shared/spec/shell.md): graft; start the services under /svc/<name>/ and restart one that
// exits non-zero, with back-off; dial /etc/bootstrap; export a Membrane guarded by /etc/authorized_keys;
// say ready on stderr; read stdin to EOF; stop the services and exit 0. Events are JSON lines on stderr.
#define _GNU_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base58.h"
#include "kernel.h"
#include "stem.capnp.h"
#include "system.capnp.h"

#define MAX_SERVICES 64
#define MAX_AUTHORIZED 256
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_MS 10000 // a service that ran this long starts its back-off afresh
#define SIGNER_TIMEOUT_MS 10000
#define GRAFT_DOMAIN "ww-membrane-graft"

static bool stopping;
static uint8_t own_id[128];
static size_t own_id_len;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

// ---- events: one JSON object a line on stderr ----------------------------------------------------------------

static void json_str(strbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      sb_put(b, "\\", 1);
      sb_put(b, s, 1);
    } else if (c < 0x20) {
      sb_printf(b, "\\u%04x", c);
    } else {
      sb_put(b, s, 1);
    }
  }
  sb_put(b, "\"", 1);
}

// event("name", "key", "s:text" | "i:123", ..., NULL): string values are escaped, integers are not.
static void event(const char *name, ...) {
  strbuf b = {0};
  sb_puts(&b, "{\"event\":");
  json_str(&b, name);
  va_list ap;
  va_start(ap, name);
  for (const char *key; (key = va_arg(ap, const char *));) {
    const char *v = va_arg(ap, const char *);
    sb_put(&b, ",", 1);
    json_str(&b, key);
    sb_put(&b, ":", 1);
    if (v[0] == 'i') sb_puts(&b, v + 2);
    else json_str(&b, v + 2);
  }
  va_end(ap);
  sb_puts(&b, "}\n");
  if (b.p) fputs(b.p, stderr);
  fflush(stderr);
  sb_free(&b);
}

// ---- services -------------------------------------------------------------------------------------------------

typedef struct service service;

typedef struct pump {
  ww_cap *stream;
  service *svc;
} pump;

struct service {
  char name[256]; // "s:<name>", an event() value
  uint8_t *wasm;
  size_t len;
  ww_process proc;
  bool running;
  int failures;         // non-zero exits in a row, for the back-off
  uint64_t started_ms;
  uint64_t restart_timer;
  pump out, err;
};

static service services[MAX_SERVICES];
static size_t nservices;

static void start_service(service *s);

// A service's output goes to our stderr as it comes.
static void pump_next(pump *p);

static void on_pumped(ww_call *c, void *arg) {
  pump *p = arg;
  bool more = false;
  if (!ww_call_error(c)) {
    cp_data d = system_ByteStream_read_Results_get_data(system_ByteStream_read_Results_read(ww_results(c)));
    if (d.len > 0) {
      fwrite(d.ptr, 1, d.len, stderr);
      fflush(stderr);
      more = true;
    }
  }
  ww_call_free(c);
  if (more && !stopping) {
    pump_next(p);
  } else {
    ww_cap_release(p->stream);
    p->stream = NULL;
  }
}

static void pump_next(pump *p) {
  ww_call *c = ww_call_new(p->stream, system_ByteStream_TYPE_ID, system_ByteStream_read);
  system_ByteStream_read_Params_set_maxBytes(system_ByteStream_read_Params_init(ww_call_params(c)), 65536);
  ww_send(c);
  ww_then(c, on_pumped, p);
}

static void restart_service(void *arg) {
  service *s = arg;
  s->restart_timer = 0;
  if (!stopping) start_service(s);
}

static void on_service_exit(ww_call *c, void *arg) {
  service *s = arg;
  const char *error = ww_call_error(c);
  int32_t code = error ? -1 : system_Process_wait_Results_get_exitCode(system_Process_wait_Results_read(ww_results(c)));
  ww_call_free(c);
  s->running = false;
  ww_process_release(&s->proc);
  if (stopping) return;
  char code_text[16];
  snprintf(code_text, sizeof code_text, "i:%d", (int)code);
  if (code == 0) {
    s->failures = 0;
    event("service-exit", "service", s->name, "code", code_text, NULL);
    return;
  }
  if (now_ms() - s->started_ms >= BACKOFF_RESET_MS) s->failures = 0;
  uint64_t delay = BACKOFF_FIRST_MS;
  for (int i = 0; i < s->failures && delay < BACKOFF_MAX_MS; i++) delay *= 2;
  if (delay > BACKOFF_MAX_MS) delay = BACKOFF_MAX_MS;
  s->failures++;
  char delay_text[32];
  snprintf(delay_text, sizeof delay_text, "i:%llu", (unsigned long long)delay);
  if (error) {
    char reason[300];
    snprintf(reason, sizeof reason, "s:%s", error);
    event("service-exit", "service", s->name, "error", reason, "restart_in_ms", delay_text, NULL);
  } else {
    event("service-exit", "service", s->name, "code", code_text, "restart_in_ms", delay_text, NULL);
  }
  s->restart_timer = ww_timer(delay, restart_service, s);
}

static void start_service(service *s) {
  const char *args[] = {NULL};
  const char *env[] = {"PATH=/bin", NULL};
  s->started_ms = now_ms();
  if (ww_run_bytes(k_session.executor, s->wasm, s->len, args, env, &s->proc) != 0) {
    char reason[300];
    snprintf(reason, sizeof reason, "s:%s", ww_error());
    event("service-failed", "service", s->name, "error", reason, NULL);
    // Treated like a crash: try again later (an epoch change, say, may have caused it).
    s->failures++;
    uint64_t delay = BACKOFF_MAX_MS;
    s->restart_timer = ww_timer(delay, restart_service, s);
    return;
  }
  s->running = true;
  event("service-start", "service", s->name, NULL);
  ww_stream_close(s->proc.stdin_stream);
  s->out = (pump){ww_cap_ref(s->proc.stdout_stream), s};
  s->err = (pump){ww_cap_ref(s->proc.stderr_stream), s};
  pump_next(&s->out);
  pump_next(&s->err);
  ww_call *w = ww_call_new(s->proc.process, system_Process_TYPE_ID, system_Process_wait);
  system_Process_wait_Params_init(ww_call_params(w));
  ww_send(w);
  ww_then(w, on_service_exit, s);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Loads /svc/<name>/boot/main.wasm (or /svc/<name>/main.wasm) of every service, in name order.
static void load_services(void) {
  DIR *d = opendir("/svc");
  if (!d) return;
  char *names[MAX_SERVICES];
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < MAX_SERVICES;) {
    if (e->d_name[0] == '.' || strlen(e->d_name) > 200) continue;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    if (!names[i]) continue;
    service *s = &services[nservices];
    snprintf(s->name, sizeof s->name, "s:%s", names[i]);
    char path[K_MAX_PATH];
    snprintf(path, sizeof path, "/svc/%s/boot/main.wasm", names[i]);
    if (access(path, R_OK) != 0) snprintf(path, sizeof path, "/svc/%s/main.wasm", names[i]);
    free(names[i]);
    k_clear_error();
    s->wasm = access(path, R_OK) == 0 ? k_read_file(path, &s->len) : NULL;
    if (!s->wasm) {
      char reason[600];
      snprintf(reason, sizeof reason, "s:%s", k_failed() ? k_error() : "no boot/main.wasm or main.wasm in it");
      event("service-failed", "service", s->name, "error", reason, NULL);
      continue;
    }
    nservices++;
  }
}

// ---- /etc/bootstrap ---------------------------------------------------------------------------------------------

typedef struct dial {
  char addr[K_MAX_PATH + 2]; // "s:" + the multiaddr
} dial;

static void on_connected(ww_call *c, void *arg) {
  dial *d = arg;
  const char *error = ww_call_error(c);
  if (error) {
    char reason[600];
    snprintf(reason, sizeof reason, "s:%s", error);
    event("bootstrap-failed", "addr", d->addr, "error", reason, NULL);
  } else {
    event("bootstrap-connected", "addr", d->addr, NULL);
  }
  ww_call_free(c);
  free(d);
}

static void dial_bootstrap_peers(void) {
  FILE *f = fopen("/etc/bootstrap", "r");
  if (!f) return;
  char line[K_MAX_PATH];
  while (fgets(line, sizeof line, f)) {
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    if (n == 0 || s[0] == '#') continue;
    dial *d = calloc(1, sizeof *d);
    if (!d) break;
    snprintf(d->addr, sizeof d->addr, "s:%s", s);
    strbuf bin = {0}, peer = {0};
    k_clear_error();
    if (!ma_from_text(s, &bin, &peer) || peer.len == 0) {
      char reason[600];
      snprintf(reason, sizeof reason, "s:%s", k_failed() ? k_error() : "the address needs a /p2p/<peer id> part");
      event("bootstrap-failed", "addr", d->addr, "error", reason, NULL);
      free(d);
    } else {
      ww_call *c = ww_call_new(k_session.host, system_Host_TYPE_ID, system_Host_connect);
      system_Host_connect_Params_builder p = system_Host_connect_Params_init(ww_call_params(c));
      system_Host_connect_Params_set_peerId(p, peer.p, peer.len);
      cp_list_b addrs = system_Host_connect_Params_init_addrs(p, bin.len > 0 ? 1 : 0);
      if (bin.len > 0) cp_lb_data(addrs, 0, bin.p, bin.len);
      ww_send(c);
      ww_then(c, on_connected, d);
    }
    sb_free(&bin);
    sb_free(&peer);
  }
  fclose(f);
}

// ---- the exported Membrane, guarded by /etc/authorized_keys --------------------------------------------------------

static char *authorized[MAX_AUTHORIZED]; // Peer IDs, base58btc
static size_t nauthorized;

static void load_authorized_keys(void) {
  FILE *f = fopen("/etc/authorized_keys", "r");
  if (!f) return; // absent: nobody remote may graft
  char line[512];
  while (fgets(line, sizeof line, f) && nauthorized < MAX_AUTHORIZED) {
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strcspn(s, " \t\r\n");
    s[n] = 0;
    if (n == 0 || s[0] == '#') continue;
    authorized[nauthorized++] = strdup(s);
  }
  fclose(f);
}

static bool is_authorized(const uint8_t *public_key, size_t len) {
  // A Peer ID is the identity multihash of a public-key protobuf of at most 42 bytes (secp256k1 and
  // Ed25519 keys); larger keys (RSA) would need sha2-256, which no key we accept has.
  if (len > 42) return false;
  uint8_t mh[44] = {0x00, (uint8_t)len};
  memcpy(mh + 2, public_key, len);
  char id[128];
  if (!b58_encode(mh, len + 2, id, sizeof id)) return false;
  for (size_t i = 0; i < nauthorized; i++) {
    if (authorized[i] && !strcmp(authorized[i], id)) return true;
  }
  return false;
}

typedef struct graft_req {
  ww_ctx *ctx;
  ww_cap *signer;
  ww_call *pending; // the call in flight (freed on timeout)
  uint64_t nonce, seq, timer;
} graft_req;

static void graft_end(graft_req *r, const char *failure) {
  if (r->timer) ww_timer_cancel(r->timer);
  if (failure) ww_fail(r->ctx, WW_FAILED, failure);
  else ww_return(r->ctx);
  ww_cap_release(r->signer);
  free(r);
}

static void on_signer_timeout(void *arg) {
  graft_req *r = arg;
  r->timer = 0;
  ww_call_free(r->pending); // cancels the sign call; its callback will not run
  graft_end(r, "graft auth failed: signer did not answer");
}

static void on_grafted(ww_call *c, void *arg) {
  graft_req *r = arg;
  const char *error = ww_call_error(c);
  if (error) {
    char reason[300];
    snprintf(reason, sizeof reason, "%s", error);
    ww_call_free(c);
    graft_end(r, reason);
    return;
  }
  // The session of a fresh graft of our own, handed on: four capabilities of the current epoch.
  stem_Membrane_graft_Results in = stem_Membrane_graft_Results_read(ww_results(c));
  uint32_t fields[4] = {stem_Membrane_graft_Results_get_identity(in), stem_Membrane_graft_Results_get_host(in),
                        stem_Membrane_graft_Results_get_executor(in), stem_Membrane_graft_Results_get_ipfs(in)};
  stem_Membrane_graft_Results_builder out = stem_Membrane_graft_Results_init(ww_ctx_results(r->ctx));
  for (int i = 0; i < 4; i++) {
    ww_cap *cap = ww_result_cap(c, fields[i]);
    uint32_t index = ww_ctx_result_cap(r->ctx, cap);
    ww_cap_release(cap);
    if (i == 0) stem_Membrane_graft_Results_set_identity(out, index);
    if (i == 1) stem_Membrane_graft_Results_set_host(out, index);
    if (i == 2) stem_Membrane_graft_Results_set_executor(out, index);
    if (i == 3) stem_Membrane_graft_Results_set_ipfs(out, index);
  }
  ww_call_free(c);
  graft_end(r, NULL);
}

static void on_verified(ww_call *c, void *arg) {
  graft_req *r = arg;
  bool valid = !ww_call_error(c) && stem_Identity_verify_Results_get_valid(stem_Identity_verify_Results_read(ww_results(c)));
  ww_call_free(c);
  if (!valid) {
    graft_end(r, "graft auth failed: signature verification failed");
    return;
  }
  ww_call *g = ww_call_new(k_session.membrane, stem_Membrane_TYPE_ID, stem_Membrane_graft);
  stem_Membrane_graft_Params_init(ww_call_params(g));
  ww_send(g);
  ww_then(g, on_grafted, r);
}

static void on_signed(ww_call *c, void *arg) {
  graft_req *r = arg;
  r->pending = NULL;
  if (r->timer) ww_timer_cancel(r->timer);
  r->timer = 0;
  if (ww_call_error(c)) {
    ww_call_free(c);
    graft_end(r, "graft auth failed: signature verification failed");
    return;
  }
  stem_Signer_sign_Results s = stem_Signer_sign_Results_read(ww_results(c));
  cp_data sig = stem_Signer_sign_Results_get_sig(s), key = stem_Signer_sign_Results_get_publicKey(s);
  if (!is_authorized(key.ptr, key.len)) {
    ww_call_free(c);
    graft_end(r, "graft auth failed: key not authorized");
    return;
  }
  // identity.md: the payload is nonce || epochSeq || audience, the audience being our own Peer ID,
  // so that a signature relayed from another node never verifies.
  uint8_t payload[16 + sizeof own_id];
  for (int i = 0; i < 8; i++) {
    payload[i] = (uint8_t)(r->nonce >> (56 - 8 * i));
    payload[8 + i] = (uint8_t)(r->seq >> (56 - 8 * i));
  }
  memcpy(payload + 16, own_id, own_id_len);
  ww_call *v = ww_call_new(k_session.identity, stem_Identity_TYPE_ID, stem_Identity_verify);
  stem_Identity_verify_Params_builder p = stem_Identity_verify_Params_init(ww_call_params(v));
  stem_Identity_verify_Params_set_domain(p, GRAFT_DOMAIN);
  stem_Identity_verify_Params_set_payload(p, payload, 16 + own_id_len);
  stem_Identity_verify_Params_set_sig(p, sig.ptr, sig.len);
  stem_Identity_verify_Params_set_publicKey(p, key.ptr, key.len);
  ww_call_free(c);
  ww_send(v);
  ww_then(v, on_verified, r);
}

static void on_epoch_for_graft(ww_call *c, void *arg) {
  graft_req *r = arg;
  const char *error = ww_call_error(c);
  if (error) {
    char reason[300];
    snprintf(reason, sizeof reason, "%s", error);
    ww_call_free(c);
    graft_end(r, reason);
    return;
  }
  r->seq = stem_Epoch_get_seq(stem_Membrane_epoch_Results_get_epoch(stem_Membrane_epoch_Results_read(ww_results(c))));
  ww_call_free(c);
  ww_call *s = ww_call_new(r->signer, stem_Signer_TYPE_ID, stem_Signer_sign);
  stem_Signer_sign_Params_builder p = stem_Signer_sign_Params_init(ww_call_params(s));
  stem_Signer_sign_Params_set_nonce(p, r->nonce);
  stem_Signer_sign_Params_set_epochSeq(p, r->seq);
  ww_send(s);
  r->pending = s;
  r->timer = ww_timer(SIGNER_TIMEOUT_MS, on_signer_timeout, r);
  ww_then(s, on_signed, r);
}

static void on_epoch_forwarded(ww_call *c, void *arg) {
  ww_ctx *ctx = arg;
  const char *error = ww_call_error(c);
  if (error) {
    ww_fail(ctx, ww_call_error_type(c), error);
  } else {
    stem_Epoch e = stem_Membrane_epoch_Results_get_epoch(stem_Membrane_epoch_Results_read(ww_results(c)));
    stem_Membrane_epoch_Results_set_epoch(stem_Membrane_epoch_Results_init(ww_ctx_results(ctx)), e);
    ww_return(ctx);
  }
  ww_call_free(c);
}

static void membrane_dispatch(void *self, ww_ctx *ctx) {
  (void)self;
  if (ww_ctx_interface(ctx) != stem_Membrane_TYPE_ID) {
    ww_fail(ctx, WW_UNIMPLEMENTED, "the kernel exports a Membrane only");
    return;
  }
  if (!k_session.membrane) {
    ww_fail(ctx, WW_OVERLOADED, "the kernel is starting: try again");
    return;
  }
  if (ww_ctx_method(ctx) == stem_Membrane_epoch) {
    ww_call *c = ww_call_new(k_session.membrane, stem_Membrane_TYPE_ID, stem_Membrane_epoch);
    stem_Membrane_epoch_Params_init(ww_call_params(c));
    ww_send(c);
    ww_then(c, on_epoch_forwarded, ctx);
    return;
  }
  if (ww_ctx_method(ctx) != stem_Membrane_graft) {
    ww_fail(ctx, WW_UNIMPLEMENTED, "Membrane has methods graft and epoch only");
    return;
  }
  uint32_t index = stem_Membrane_graft_Params_get_signer(stem_Membrane_graft_Params_read(ww_ctx_params(ctx)));
  ww_cap *signer = index == CP_NULL_CAP ? NULL : ww_ctx_param_cap(ctx, index);
  if (!signer) {
    ww_fail(ctx, WW_FAILED, "graft auth failed: missing signer");
    return;
  }
  graft_req *r = calloc(1, sizeof *r);
  if (!r || getentropy(&r->nonce, sizeof r->nonce) != 0) {
    free(r);
    ww_cap_release(signer);
    ww_fail(ctx, WW_FAILED, "graft: no randomness for the challenge");
    return;
  }
  r->ctx = ctx;
  r->signer = signer;
  // The challenge names the current epoch: ask for it first.
  ww_call *c = ww_call_new(k_session.membrane, stem_Membrane_TYPE_ID, stem_Membrane_epoch);
  stem_Membrane_epoch_Params_init(ww_call_params(c));
  ww_send(c);
  ww_then(c, on_epoch_for_graft, r);
}

// ---- the daemon ------------------------------------------------------------------------------------------------------

static void on_stdin(void *arg, const uint8_t *data, size_t len) {
  (void)arg;
  (void)data;
  if (len == 0) ww_stop(0); // end of input: time to stop
}

int k_daemon(void) {
  // What we export must be set before the loop first runs.
  load_authorized_keys();
  ww_cap *membrane = ww_serve(membrane_dispatch, NULL, NULL);
  ww_set_bootstrap(membrane);
  ww_cap_release(membrane);

  if (ww_graft(&k_session) != 0) {
    char reason[600];
    snprintf(reason, sizeof reason, "s:%s", ww_error());
    event("graft-failed", "error", reason, NULL);
    return 1;
  }
  ww_call *c = ww_call_new(k_session.host, system_Host_TYPE_ID, system_Host_id);
  system_Host_id_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) {
    char reason[600];
    snprintf(reason, sizeof reason, "s:%s", ww_call_error(c));
    ww_call_free(c);
    event("host-id-failed", "error", reason, NULL);
    return 1;
  }
  cp_data id = system_Host_id_Results_get_peerId(system_Host_id_Results_read(ww_results(c)));
  own_id_len = id.len < sizeof own_id ? id.len : sizeof own_id;
  memcpy(own_id, id.ptr, own_id_len);
  ww_call_free(c);
  char peer_id[256] = "s:";
  b58_encode(own_id, own_id_len, peer_id + 2, sizeof peer_id - 2);

  load_services();
  for (size_t i = 0; i < nservices; i++) start_service(&services[i]);
  dial_bootstrap_peers();
  event("ready", "peer_id", peer_id, NULL);

  ww_on_stdin(on_stdin, NULL);
  int status = ww_run();
  stopping = true;
  for (size_t i = 0; i < nservices; i++) {
    service *s = &services[i];
    if (s->restart_timer) ww_timer_cancel(s->restart_timer);
    if (s->running) {
      ww_process_kill(&s->proc);
      ww_process_release(&s->proc);
      s->running = false;
    }
  }
  if (status != 0) {
    char reason[600];
    snprintf(reason, sizeof reason, "s:%s", ww_disconnect_reason() ? ww_disconnect_reason() : "?");
    event("host-gone", "error", reason, NULL);
    return 1;
  }
  event("stopped", NULL);
  ww_session_release(&k_session);
  return 0;
}
