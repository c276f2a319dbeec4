// A C guest against the real host (tests/Wetware.GuestSdk.Tests/HostEndToEndTests.cs): the host's
// own Membrane, Executor, Process and streams, not test doubles. One scenario per run, named by
// argv[1]; the parent scenarios start this same module (read from /e2e.wasm of pid0's image) as
// their child, in a child-* scenario. Prints name=value lines for the test and exits 0 when the
// scenario went as the guest saw it.
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipfs.capnp.h"
#include "sdktest.capnp.h"
#include "stem.capnp.h"
#include "system.capnp.h"
#include "ww.h"

static int die(const char *what, const char *why) {
  printf("error=%s: %s\n", what, why ? why : "?");
  fflush(stdout);
  return 3;
}

static void hex(const char *name, const uint8_t *p, size_t n) {
  printf("%s=", name);
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  printf("\n");
}

// This module's own bytes, to start copies of it as children.
static uint8_t *self_wasm(size_t *len) {
  FILE *f = fopen("/e2e.wasm", "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)n);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return p;
}

// Reads a stream to its end into a malloc'd NUL-terminated string.
static char *read_all(ww_cap *stream) {
  size_t cap = 256, n = 0;
  char *out = malloc(cap);
  for (;;) {
    if (cap - n < 128) out = realloc(out, cap *= 2);
    ssize_t r = ww_stream_read(stream, out + n, cap - n - 1);
    if (r < 0) {
      free(out);
      return NULL;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  out[n] = 0;
  return out;
}

// Reads a stream until a newline has arrived (the rest of what came is kept in the string).
static char *read_line(ww_cap *stream) {
  size_t cap = 256, n = 0;
  char *out = malloc(cap);
  out[0] = 0;
  while (!strchr(out, '\n')) {
    if (cap - n < 128) out = realloc(out, cap *= 2);
    ssize_t r = ww_stream_read(stream, out + n, cap - n - 1);
    if (r <= 0) break;
    n += (size_t)r;
    out[n] = 0;
  }
  return out;
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
}

// ---- an echo-only Tester a guest serves (its log and call count kept) ---------------------------

static struct {
  int calls;
  char log[1024];
  size_t sunk;
  bool stop_on_bye;
  int *countdown; /* decremented by each sink; the loop stops at 0 */
} served;

static void tester_dispatch(void *self, ww_ctx *ctx) {
  (void)self;
  served.calls++;
  if (ww_ctx_interface(ctx) == sdktest_Tester_TYPE_ID && ww_ctx_method(ctx) == sdktest_Tester_echo) {
    cp_text text = sdktest_Tester_echo_Params_get_text(sdktest_Tester_echo_Params_read(ww_ctx_params(ctx)));
    size_t used = strlen(served.log);
    snprintf(served.log + used, sizeof served.log - used, "%s%s", used ? "," : "", text.str);
    sdktest_Tester_echo_Results_set_text_len(sdktest_Tester_echo_Results_init(ww_ctx_results(ctx)), text.str, text.len);
    ww_return(ctx);
    if (served.stop_on_bye && strcmp(text.str, "bye") == 0) ww_stop(0);
    return;
  }
  if (ww_ctx_interface(ctx) == sdktest_Tester_TYPE_ID && ww_ctx_method(ctx) == sdktest_Tester_sink) {
    cp_data d = sdktest_Tester_sink_Params_get_data(sdktest_Tester_sink_Params_read(ww_ctx_params(ctx)));
    served.sunk += d.len;
    sdktest_Tester_sink_Results_set_size(sdktest_Tester_sink_Results_init(ww_ctx_results(ctx)), d.len);
    ww_return(ctx);
    if (served.countdown && --*served.countdown == 0) ww_stop(0);
    return;
  }
  ww_fail(ctx, WW_UNIMPLEMENTED, "this object answers Tester.echo and Tester.sink only");
}

static ww_cap *new_tester(void) { return ww_serve(tester_dispatch, NULL, NULL); }

static char *tester_echo(ww_cap *target, const char *text) {
  ww_call *c = ww_call_new(target, sdktest_Tester_TYPE_ID, sdktest_Tester_echo);
  sdktest_Tester_echo_Params_set_text(sdktest_Tester_echo_Params_init(ww_call_params(c)), text);
  char *reply;
  if (ww_wait(c) != 0) {
    size_t n = strlen(ww_call_error(c)) + 8;
    reply = malloc(n);
    snprintf(reply, n, "error:%s", ww_call_error(c));
  } else {
    reply = strdup(sdktest_Tester_echo_Results_get_text(sdktest_Tester_echo_Results_read(ww_results(c))).str);
  }
  ww_call_free(c);
  return reply;
}

// ---- pid0 scenarios ------------------------------------------------------------------------------

// graft, host.id, executor.echo, membrane.epoch, and the ipfs capability's answer until IPFS lands.
static int scenario_session(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  char *reply = ww_echo(s.executor, "hello host");
  if (!reply) return die("echo", ww_error());
  printf("echo=%s\n", reply);
  free(reply);
  ww_epoch e;
  if (ww_membrane_epoch(s.membrane, &e) != 0) return die("epoch", ww_error());
  printf("epoch=%" PRIu64 "\n", e.seq);
  ww_call *c = ww_call_new(s.host, system_Host_TYPE_ID, system_Host_id);
  system_Host_id_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) return die("host.id", ww_call_error(c));
  cp_data id = system_Host_id_Results_get_peerId(system_Host_id_Results_read(ww_results(c)));
  hex("peer", id.ptr, id.len);
  ww_call_free(c);
  // host.executor() gives an executor of the same session.
  c = ww_call_new(s.host, system_Host_TYPE_ID, system_Host_executor);
  system_Host_executor_Params_init(ww_call_params(c));
  ww_send(c);
  ww_cap *ex = ww_pipeline(c, 0);
  reply = ww_echo(ex, "via host.executor");
  printf("host-executor=%s\n", reply ? reply : ww_error());
  free(reply);
  ww_cap_release(ex);
  ww_call_free(c);
  printf("identity=%d ipfs=%d\n", s.identity != NULL, s.ipfs != NULL);
  ww_session_release(&s);
  return 0;
}

static int graft_with(ww_cap *membrane, ww_cap *signer, ww_session *out) {
  ww_call *g = ww_call_new(membrane, stem_Membrane_TYPE_ID, stem_Membrane_graft);
  stem_Membrane_graft_Params_builder p = stem_Membrane_graft_Params_init(ww_call_params(g));
  if (signer) stem_Membrane_graft_Params_set_signer(p, ww_call_cap(g, signer));
  int r = ww_wait(g);
  if (r != 0) {
    printf("graft-error=%s\n", ww_call_error(g));
  } else {
    stem_Membrane_graft_Results res = stem_Membrane_graft_Results_read(ww_results(g));
    out->membrane = ww_cap_ref(membrane);
    out->identity = ww_result_cap(g, stem_Membrane_graft_Results_get_identity(res));
    out->host = ww_result_cap(g, stem_Membrane_graft_Results_get_host(res));
    out->executor = ww_result_cap(g, stem_Membrane_graft_Results_get_executor(res));
    out->ipfs = ww_result_cap(g, stem_Membrane_graft_Results_get_ipfs(res));
  }
  ww_call_free(g);
  return r;
}

// A Signer that never answers (its calls are left pending).
static void hanging_signer(void *self, ww_ctx *ctx) {
  (void)self;
  (void)ctx;
}

// Graft with the node's own signer (from Identity.signer: it signs inside the host), then with a
// signer this guest serves that never answers.
static int scenario_signer(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  ww_call *c = ww_call_new(s.identity, stem_Identity_TYPE_ID, stem_Identity_signer);
  stem_Identity_signer_Params_set_domain(stem_Identity_signer_Params_init(ww_call_params(c)), "ww-membrane-graft");
  ww_send(c);
  ww_cap *signer = ww_pipeline(c, 0);
  ww_session signed_session;
  if (graft_with(s.membrane, signer, &signed_session) == 0) {
    char *reply = ww_echo(signed_session.executor, "signed");
    printf("signed-graft=%s\n", reply ? reply : ww_error());
    free(reply);
    ww_session_release(&signed_session);
  }
  ww_cap_release(signer);
  ww_call_free(c);
  ww_cap *hanging = ww_serve(hanging_signer, NULL, NULL);
  ww_session never;
  if (graft_with(s.membrane, hanging, &never) == 0) {
    printf("hanging=granted\n");
    ww_session_release(&never);
  }
  ww_cap_release(hanging);
  ww_session_release(&s);
  return 0;
}

// runBytes of a child that grafts and echoes each stdin line; its output is read as it comes.
static int scenario_parent_run(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  size_t len;
  uint8_t *wasm = self_wasm(&len);
  if (!wasm) return die("read /e2e.wasm", "missing");
  const char *args[] = {"child-echo", NULL};
  const char *env[] = {"GREETING=hi", NULL};
  ww_process p;
  if (ww_run_bytes(s.executor, wasm, len, args, env, &p) != 0) return die("runBytes", ww_error());
  free(wasm);
  if (ww_stream_write(p.stdin_stream, "first\n", 6) != 0) return die("write", ww_error());
  // The child's answer to the first line comes while it still runs (its stdin is open).
  char *line = read_line(p.stdout_stream);
  trim(line);
  printf("first-line=%s\n", line);
  free(line);
  if (ww_stream_write(p.stdin_stream, "second\n", 7) != 0) return die("write", ww_error());
  if (ww_stream_close(p.stdin_stream) != 0) return die("close", ww_error());
  char *rest = read_all(p.stdout_stream);
  char *err = read_all(p.stderr_stream);
  if (!rest || !err) return die("read", ww_error());
  trim(rest);
  trim(err);
  printf("rest=%s\nchild-stderr=%s\n", rest, err);
  free(rest);
  free(err);
  int32_t code = -1;
  if (ww_process_wait(&p, &code) != 0) return die("wait", ww_error());
  printf("exit=%d\n", code);
  ww_process_release(&p);
  ww_session_release(&s);
  return 0;
}

// spawn with an attenuated bootstrap: an echo-only object this guest serves.
static int scenario_parent_spawn(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  size_t len;
  uint8_t *wasm = self_wasm(&len);
  if (!wasm) return die("read /e2e.wasm", "missing");
  const char *args[] = {"child-attenuated", NULL};
  ww_cap *mine = new_tester();
  ww_process p;
  if (ww_spawn(s.executor, wasm, len, args, NULL, mine, &p) != 0) return die("spawn", ww_error());
  free(wasm);
  ww_cap_release(mine);
  ww_stream_close(p.stdin_stream);
  // The child calls our object while we read its output: reading runs the loop that serves it.
  char *out = read_all(p.stdout_stream);
  if (!out) return die("read", ww_error());
  int32_t code = -1;
  if (ww_process_wait(&p, &code) != 0) return die("wait", ww_error());
  printf("%sexit=%d\nserved=%d log=%s\n", out, code, served.calls, served.log);
  free(out);
  ww_process_release(&p);
  ww_session_release(&s);
  return 0;
}

// A child exports an object; this guest gets it through Process.bootstrap and calls it; then this
// guest exports one of its own for the host to call, and ends when the host says "bye" through it.
static int scenario_parent_export(void) {
  ww_cap *t = new_tester();
  ww_set_bootstrap(t);
  ww_cap_release(t);
  served.stop_on_bye = true;
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  size_t len;
  uint8_t *wasm = self_wasm(&len);
  if (!wasm) return die("read /e2e.wasm", "missing");
  const char *args[] = {"child-export", NULL};
  ww_process p;
  if (ww_run_bytes(s.executor, wasm, len, args, NULL, &p) != 0) return die("runBytes", ww_error());
  free(wasm);
  ww_cap *child = ww_process_bootstrap(&p);
  if (!child) return die("Process.bootstrap", ww_error());
  char *reply = tester_echo(child, "to the child");
  printf("child-reply=%s\n", reply);
  free(reply);
  ww_cap_release(child);
  ww_process_kill(&p);
  ww_process_release(&p);
  printf("waiting=1\n");
  fflush(stdout);
  int status = ww_run(); // until the host's "bye"
  printf("status=%d served=%d log=%s\n", status, served.calls, served.log);
  ww_session_release(&s);
  return 0;
}

// 8 MiB each way at once: an 8 MiB echo through the host while the host sinks 8 MiB into our export.
static struct {
  int pending;
} big;

static void big_echo_done(ww_call *c, void *arg) {
  (void)arg;
  if (ww_call_error(c)) {
    printf("echo-error=%s\n", ww_call_error(c));
  } else {
    cp_text t = system_Executor_echo_Results_get_response(system_Executor_echo_Results_read(ww_results(c)));
    size_t bad = 0;
    for (size_t i = 0; i < t.len; i++) bad += t.str[i] != (char)('a' + i % 26);
    printf("echoed=%u bad=%zu\n", t.len, bad);
  }
  ww_call_free(c);
  if (--big.pending == 0) ww_stop(0);
}

static int scenario_big_both(size_t size) {
  ww_cap *t = new_tester();
  ww_set_bootstrap(t);
  ww_cap_release(t);
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  ww_call *c = ww_call_new(s.executor, system_Executor_TYPE_ID, system_Executor_echo);
  char *text = malloc(size + 1);
  for (size_t i = 0; i < size; i++) text[i] = (char)('a' + i % 26);
  text[size] = 0;
  system_Executor_echo_Params_set_message_len(system_Executor_echo_Params_init(ww_call_params(c)), text, size);
  free(text);
  big.pending = 2; // the echo's answer, and the host's sink
  served.countdown = &big.pending;
  ww_then(c, big_echo_done, NULL);
  ww_send(c);
  printf("sending=1\n");
  fflush(stdout);
  int status = ww_run();
  printf("sunk=%zu status=%d\n", served.sunk, status);
  ww_session_release(&s);
  return 0;
}

// Epoch advance: a child keeps running through it and learns of it on its next call; this guest's
// old session fails with staleEpoch:, and a new graft works. The host advances the epoch when this
// guest prints ready=1 and then writes a line to its stdin.
static struct {
  ww_call *read;
  ww_call *wait;
} pending;

static int scenario_parent_epoch(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  size_t len;
  uint8_t *wasm = self_wasm(&len);
  if (!wasm) return die("read /e2e.wasm", "missing");
  const char *args[] = {"child-epoch", NULL};
  ww_process p;
  if (ww_run_bytes(s.executor, wasm, len, args, NULL, &p) != 0) return die("runBytes", ww_error());
  free(wasm);
  char *line = read_line(p.stdout_stream);
  trim(line);
  printf("child-first=%s\n", line);
  free(line);
  // Asked before the epoch moves: these calls are already in the host when it does.
  pending.read = ww_call_new(p.stdout_stream, system_ByteStream_TYPE_ID, system_ByteStream_read);
  system_ByteStream_read_Params_set_maxBytes(system_ByteStream_read_Params_init(ww_call_params(pending.read)), 4096);
  ww_send(pending.read);
  pending.wait = ww_call_new(p.process, system_Process_TYPE_ID, system_Process_wait);
  system_Process_wait_Params_init(ww_call_params(pending.wait));
  ww_send(pending.wait);
  ww_epoch e;
  if (ww_membrane_epoch(s.membrane, &e) != 0) return die("epoch", ww_error());
  printf("epoch-before=%" PRIu64 "\nready=1\n", e.seq);
  fflush(stdout);
  char go[64];
  if (!fgets(go, sizeof go, stdin)) return die("stdin", "closed before the go line");
  char *reply = ww_echo(s.executor, "after the advance");
  printf("old-session=%s\n", reply ? reply : ww_error());
  free(reply);
  ww_session fresh;
  if (ww_graft(&fresh) != 0) return die("re-graft", ww_error());
  reply = ww_echo(fresh.executor, "re-grafted");
  printf("new-session=%s\n", reply ? reply : ww_error());
  free(reply);
  if (ww_membrane_epoch(fresh.membrane, &e) != 0) return die("epoch", ww_error());
  printf("epoch-after=%" PRIu64 "\n", e.seq);
  if (ww_wait(pending.read) != 0) return die("pending read", ww_call_error(pending.read));
  cp_data d = system_ByteStream_read_Results_get_data(system_ByteStream_read_Results_read(ww_results(pending.read)));
  printf("child-then=%.*s", (int)d.len, (const char *)d.ptr);
  if (ww_wait(pending.wait) != 0) return die("pending wait", ww_call_error(pending.wait));
  printf("child-exit=%d\n", system_Process_wait_Results_get_exitCode(system_Process_wait_Results_read(ww_results(pending.wait))));
  ww_call_free(pending.read);
  ww_call_free(pending.wait);
  ww_process_release(&p);
  ww_session_release(&s);
  ww_session_release(&fresh);
  return 0;
}

// Sequential or windowed echo calls, timed inside the guest (bench/host.sh).
static struct {
  ww_cap *executor;
  long next, done, total;
  int errors;
} many;

static void many_send(void);

static void many_done(ww_call *c, void *arg) {
  (void)arg;
  if (ww_call_error(c)) many.errors++;
  ww_call_free(c);
  many.done++;
  if (many.next < many.total) many_send();
  if (many.done == many.total) ww_stop(0);
}

static void many_send(void) {
  ww_call *c = ww_call_new(many.executor, system_Executor_TYPE_ID, system_Executor_echo);
  system_Executor_echo_Params_set_message(system_Executor_echo_Params_init(ww_call_params(c)), "x");
  ww_then(c, many_done, NULL);
  ww_send(c);
  many.next++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int scenario_echo_bench(long total, long window) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  many.executor = s.executor;
  many.total = total;
  double t0 = now_s();
  for (long i = 0; i < window && i < total; i++) many_send();
  ww_run();
  double t = now_s() - t0;
  printf("calls=%ld errors=%d seconds=%.6f rate=%.0f\n", many.done, many.errors, t, (double)many.done / t);
  ww_session_release(&s);
  return many.errors == 0 && many.done == total ? 0 : 4;
}

// ipfs.unixfs().cat(path), pipelined on unixfs's answer (one round trip); ls; add. One per argument:
// cat:PATH ls:PATH add:TEXT wait (for a line on stdin). Prints what came back (a cat's size and byte sum) or the error.
static int scenario_ipfs(int argc, char **argv) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  ww_call *u = ww_call_new(s.ipfs, ipfs_Client_TYPE_ID, ipfs_Client_unixfs);
  ipfs_Client_unixfs_Params_init(ww_call_params(u));
  ww_send(u);
  ww_cap *unixfs = ww_pipeline(u, 0);
  for (int i = 2; i < argc; i++) {
    const char *arg = argv[i];
    ww_call *c;
    if (strncmp(arg, "cat:", 4) == 0) {
      c = ww_call_new(unixfs, ipfs_UnixFS_TYPE_ID, ipfs_UnixFS_cat);
      ipfs_UnixFS_cat_Params_set_path(ipfs_UnixFS_cat_Params_init(ww_call_params(c)), arg + 4);
      if (ww_wait(c) != 0) {
        printf("cat-error=%d:%s\n", ww_call_error_type(c), ww_call_error(c));
      } else {
        cp_data d = ipfs_UnixFS_cat_Results_get_data(ipfs_UnixFS_cat_Results_read(ww_results(c)));
        uint64_t sum = 0;
        for (uint32_t j = 0; j < d.len; j++) sum += d.ptr[j];
        printf("cat=%u sum=%" PRIu64 "\n", d.len, sum);
      }
    } else if (strncmp(arg, "ls:", 3) == 0) {
      c = ww_call_new(unixfs, ipfs_UnixFS_TYPE_ID, ipfs_UnixFS_ls);
      ipfs_UnixFS_ls_Params_set_path(ipfs_UnixFS_ls_Params_init(ww_call_params(c)), arg + 3);
      if (ww_wait(c) != 0) {
        printf("ls-error=%d:%s\n", ww_call_error_type(c), ww_call_error(c));
      } else {
        cp_list l = ipfs_UnixFS_ls_Results_get_entries(ipfs_UnixFS_ls_Results_read(ww_results(c)));
        printf("ls=");
        for (uint32_t j = 0; j < cp_list_len(l); j++) {
          ipfs_UnixFS_Entry e = ipfs_UnixFS_Entry_list_get(l, j);
          printf("%s%s:%s:%" PRIu64, j ? "," : "", ipfs_UnixFS_Entry_get_name(e).str,
                 ipfs_UnixFS_Entry_get_type(e) == ipfs_UnixFS_Entry_EntryType_directory ? "dir" : "file", ipfs_UnixFS_Entry_get_size(e));
        }
        printf("\n");
      }
    } else if (strncmp(arg, "add:", 4) == 0) {
      c = ww_call_new(unixfs, ipfs_UnixFS_TYPE_ID, ipfs_UnixFS_add);
      ipfs_UnixFS_add_Params_set_data(ipfs_UnixFS_add_Params_init(ww_call_params(c)), arg + 4, strlen(arg + 4));
      if (ww_wait(c) != 0) printf("add-error=%d:%s\n", ww_call_error_type(c), ww_call_error(c));
      else printf("added=%s\n", ipfs_UnixFS_add_Results_get_path(ipfs_UnixFS_add_Results_read(ww_results(c))).str);
    } else if (strncmp(arg, "catbench:", 9) == 0) {
      // catbench:N:PATH: N cats of PATH one after another, timed here (bench/ipfs.sh).
      long n = atol(arg + 9);
      const char *path = strchr(arg + 9, ':');
      if (n <= 0 || !path) return die("catbench", "catbench:N:PATH");
      path++;
      uint64_t bytes = 0;
      double t0 = now_s();
      for (long k = 0; k < n; k++) {
        ww_call *b = ww_call_new(unixfs, ipfs_UnixFS_TYPE_ID, ipfs_UnixFS_cat);
        ipfs_UnixFS_cat_Params_set_path(ipfs_UnixFS_cat_Params_init(ww_call_params(b)), path);
        if (ww_wait(b) != 0) {
          printf("catbench-error=%s\n", ww_call_error(b));
          ww_call_free(b);
          return 4;
        }
        bytes += ipfs_UnixFS_cat_Results_get_data(ipfs_UnixFS_cat_Results_read(ww_results(b))).len;
        ww_call_free(b);
      }
      double t = now_s() - t0;
      printf("catbench bytes=%" PRIu64 " seconds=%.6f rate=%.0f\n", bytes, t, (double)bytes / t);
      fflush(stdout);
      continue;
    } else if (strcmp(arg, "wait") == 0) {
      // The host does something (stops the node, say) and then writes a line to our stdin.
      printf("waiting=%d\n", i);
      fflush(stdout);
      char go[64];
      if (!fgets(go, sizeof go, stdin)) return die("stdin", "closed before the go line");
      continue;
    } else {
      return die("ipfs", "arguments are cat:PATH, ls:PATH, add:TEXT or wait");
    }
    ww_call_free(c);
    fflush(stdout);
  }
  ww_cap_release(unixfs);
  ww_call_free(u);
  ww_session_release(&s);
  return 0;
}

// ---- child scenarios -------------------------------------------------------------------------------

static int child_echo(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("child graft", ww_error());
  const char *greeting = getenv("GREETING");
  char line[256];
  int n = 0;
  while (fgets(line, sizeof line, stdin)) {
    trim(line);
    char *reply = ww_echo(s.executor, line);
    printf("%s:%s\n", greeting ? greeting : "?", reply ? reply : ww_error());
    fflush(stdout);
    free(reply);
    n++;
  }
  fprintf(stderr, "child saw %d lines\n", n);
  ww_session_release(&s);
  return 7;
}

static int child_attenuated(void) {
  ww_cap *b = ww_bootstrap();
  char *reply = tester_echo(b, "via parent");
  printf("child-echo=%s\n", reply);
  free(reply);
  // Its bootstrap is all it has: it is not a Membrane, so there is no session to graft.
  ww_call *c = ww_call_new(b, stem_Membrane_TYPE_ID, stem_Membrane_graft);
  stem_Membrane_graft_Params_init(ww_call_params(c));
  ww_wait(c);
  printf("child-graft=%d:%s\n", ww_call_error_type(c), ww_call_error(c) ? ww_call_error(c) : "granted");
  ww_call_free(c);
  ww_cap_release(b);
  return 0;
}

static int child_export(void) {
  ww_cap *t = new_tester();
  ww_set_bootstrap(t);
  ww_cap_release(t);
  ww_run(); // until killed or disconnected
  return 0;
}

static int child_epoch(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("child graft", ww_error());
  char *reply = ww_echo(s.executor, "before");
  printf("before=%s\n", reply ? reply : ww_error());
  fflush(stdout);
  free(reply);
  // Calls again every 10 ms until a call fails (the epoch moved), for at most 60 s.
  char stale[256] = "";
  for (int i = 0; i < 6000 && !stale[0]; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    reply = ww_echo(s.executor, "again");
    if (!reply) snprintf(stale, sizeof stale, "%s", ww_error());
    free(reply);
  }
  if (!stale[0]) return die("child", "the epoch never moved");
  ww_session fresh;
  if (ww_graft(&fresh) != 0) return die("child re-graft", ww_error());
  reply = ww_echo(fresh.executor, "re-grafted");
  printf("stale=%s after=%s\n", stale, reply ? reply : ww_error());
  fflush(stdout);
  free(reply);
  ww_session_release(&fresh);
  ww_session_release(&s);
  return 0;
}

int main(int argc, char **argv) {
  const char *s = argc > 1 ? argv[1] : "session";
  if (strcmp(s, "session") == 0) return scenario_session();
  if (strcmp(s, "signer") == 0) return scenario_signer();
  if (strcmp(s, "ipfs") == 0) return scenario_ipfs(argc, argv);
  if (strcmp(s, "parent-run") == 0) return scenario_parent_run();
  if (strcmp(s, "parent-spawn") == 0) return scenario_parent_spawn();
  if (strcmp(s, "parent-export") == 0) return scenario_parent_export();
  if (strcmp(s, "big-both") == 0) return scenario_big_both(argc > 2 ? (size_t)atol(argv[2]) : 8u << 20);
  if (strcmp(s, "parent-epoch") == 0) return scenario_parent_epoch();
  if (strcmp(s, "echo-bench") == 0) return scenario_echo_bench(argc > 2 ? atol(argv[2]) : 10000, argc > 3 ? atol(argv[3]) : 1);
  if (strcmp(s, "child-echo") == 0) return child_echo();
  if (strcmp(s, "child-attenuated") == 0) return child_attenuated();
  if (strcmp(s, "child-export") == 0) return child_export();
  if (strcmp(s, "child-epoch") == 0) return child_epoch();
  fprintf(stderr, "e2e: unknown scenario %s\n", s);
  return 2;
}
