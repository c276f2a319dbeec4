// The guest half of the SDK's end-to-end tests (tests/Wetware.GuestSdk.Tests): one scenario per
// run, named by argv[1]. It prints name=value lines on stdout for the test to check and exits 0
// when the scenario went as the guest saw it (the host side checks the rest).
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdktest.capnp.h"
#include "stem.capnp.h"
#include "system.capnp.h"
#include "ww.h"

static int die(const char *what, const char *why) {
  printf("error=%s: %s\n", what, why ? why : "?");
  fflush(stdout);
  return 3;
}

// ---- a Tester the guest serves ------------------------------------------------------------------

typedef struct tester {
  ww_cap *held;
  char log[4096];
  size_t loglen;
  int calls;
} tester;

static void callback_done(ww_call *c, void *arg) {
  ww_ctx *ctx = arg;
  if (ww_call_error(c)) {
    ww_fail(ctx, ww_call_error_type(c), ww_call_error(c));
  } else {
    cp_text t = sdktest_Tester_echo_Results_get_text(sdktest_Tester_echo_Results_read(ww_results(c)));
    sdktest_Tester_callBack_Results_set_text_len(sdktest_Tester_callBack_Results_init(ww_ctx_results(ctx)), t.str, t.len);
    ww_return(ctx);
  }
  ww_call_free(c);
}

static void give_later(void *ctx) { ww_return(ctx); }

static void log_entry(tester *t, const char *text, size_t len) {
  if (t->loglen + len + 2 < sizeof t->log) {
    if (t->loglen) t->log[t->loglen++] = ',';
    memcpy(t->log + t->loglen, text, len);
    t->loglen += len;
    t->log[t->loglen] = 0;
  }
}

// hang: polls for the caller's Finish (ww_ctx_canceled) every 5 ms, then answers.
static tester the_tester;
static void hang_poll(void *arg) {
  ww_ctx *ctx = arg;
  if (!ww_ctx_canceled(ctx)) {
    ww_timer(5, hang_poll, ctx);
    return;
  }
  log_entry(&the_tester, "hang canceled", 13);
  ww_fail(ctx, WW_FAILED, "canceled");
}

static void tester_dispatch(void *self, ww_ctx *ctx) {
  tester *t = self;
  t->calls++;
  if (ww_ctx_interface(ctx) != sdktest_Tester_TYPE_ID) {
    ww_fail(ctx, WW_UNIMPLEMENTED, "this guest's object serves Tester only");
    return;
  }
  switch (ww_ctx_method(ctx)) {
    case sdktest_Tester_echo: {
      cp_text text = sdktest_Tester_echo_Params_get_text(sdktest_Tester_echo_Params_read(ww_ctx_params(ctx)));
      log_entry(t, text.str, text.len);
      sdktest_Tester_echo_Results_set_text_len(sdktest_Tester_echo_Results_init(ww_ctx_results(ctx)), text.str, text.len);
      ww_return(ctx);
      return;
    }
    case sdktest_Tester_fail: {
      cp_text reason = sdktest_Tester_fail_Params_get_reason(sdktest_Tester_fail_Params_read(ww_ctx_params(ctx)));
      ww_fail(ctx, WW_FAILED, reason.str);
      return;
    }
    case sdktest_Tester_hold: {
      uint32_t index = sdktest_Tester_hold_Params_get_cap(sdktest_Tester_hold_Params_read(ww_ctx_params(ctx)));
      ww_cap_release(t->held);
      t->held = ww_ctx_param_cap(ctx, index);
      sdktest_Tester_hold_Results_init(ww_ctx_results(ctx));
      ww_return(ctx);
      return;
    }
    case sdktest_Tester_give: {
      sdktest_Tester_give_Results_builder r = sdktest_Tester_give_Results_init(ww_ctx_results(ctx));
      if (t->held) sdktest_Tester_give_Results_set_cap(r, ww_ctx_result_cap(ctx, t->held));
      // Answered 20 ms later, from a timer: calls the host pipelines on the answer are sure to
      // reach the guest before it.
      ww_timer(20, give_later, ctx);
      return;
    }
    case sdktest_Tester_callBack: {
      sdktest_Tester_callBack_Params p = sdktest_Tester_callBack_Params_read(ww_ctx_params(ctx));
      ww_cap *cb = ww_ctx_param_cap(ctx, sdktest_Tester_callBack_Params_get_cb(p));
      cp_text text = sdktest_Tester_callBack_Params_get_text(p);
      ww_call *c = ww_call_new(cb, sdktest_Tester_TYPE_ID, sdktest_Tester_echo);
      sdktest_Tester_echo_Params_set_text_len(sdktest_Tester_echo_Params_init(ww_call_params(c)), text.str, text.len);
      ww_cap_release(cb);
      if (strncmp(text.str, "wait:", 5) == 0) {
        ww_wait(c); // a blocking wait inside a handler: the loop runs nested
        callback_done(c, ctx);
        return;
      }
      ww_then(c, callback_done, ctx); // answered later, from the callback
      ww_send(c);
      return;
    }
    case sdktest_Tester_sink: {
      cp_data d = sdktest_Tester_sink_Params_get_data(sdktest_Tester_sink_Params_read(ww_ctx_params(ctx)));
      uint64_t sum = 0;
      for (uint32_t i = 0; i < d.len; i++) sum += d.ptr[i];
      printf("sunk=%u sum=%" PRIu64 "\n", d.len, sum);
      sdktest_Tester_sink_Results_set_size(sdktest_Tester_sink_Results_init(ww_ctx_results(ctx)), d.len);
      ww_return(ctx);
      return;
    }
    case sdktest_Tester_hang:
      ww_timer(5, hang_poll, ctx);
      return;
    case sdktest_Tester_log: {
      sdktest_Tester_log_Results_builder r = sdktest_Tester_log_Results_init(ww_ctx_results(ctx));
      cp_list_b l = sdktest_Tester_log_Results_init_entries(r, 1);
      cp_lb_text(l, 0, t->log, t->loglen);
      ww_return(ctx);
      return;
    }
    default: {
      char reason[96];
      snprintf(reason, sizeof reason, "method %u of Tester is not implemented by this guest", ww_ctx_method(ctx));
      ww_fail(ctx, WW_UNIMPLEMENTED, reason);
      return;
    }
  }
}

static ww_cap *new_tester(void) { return ww_serve(tester_dispatch, &the_tester, NULL); }

// ---- calls on the host's Tester (the bootstrap answers Tester beside Membrane) -----------------------

static ww_call *echo_call(ww_cap *target, const char *text) {
  ww_call *c = ww_call_new(target, sdktest_Tester_TYPE_ID, sdktest_Tester_echo);
  sdktest_Tester_echo_Params_set_text(sdktest_Tester_echo_Params_init(ww_call_params(c)), text);
  ww_send(c);
  return c;
}

static const char *echo_text(ww_call *c) {
  if (ww_call_error(c)) return ww_call_error(c);
  return sdktest_Tester_echo_Results_get_text(sdktest_Tester_echo_Results_read(ww_results(c))).str;
}

// The host's bootstrap (its Membrane, which answers Tester too in these tests).
static ww_cap *bootstrap(void) { return ww_bootstrap(); }

// The engine's tables and protocol events, for the host side to check (leaks, embargoes, loopbacks).
static void print_counts(void) {
  ww_counts c;
  ww_get_counts(&c);
  printf("tables=%u,%u,%u,%u,%u embargoes=%" PRIu64 " loopbacks=%" PRIu64 " resolves=%" PRIu64 " forwarded=%" PRIu64
         " turns=%" PRIu64 " partial=%" PRIu64 "\n",
         c.questions, c.answers, c.imports, c.exports, c.embargoes, c.embargoes_sent, c.loopbacks_echoed,
         c.resolves, c.forwarded, c.loop_turns, c.partial_writes);
}

// ---- scenarios ---------------------------------------------------------------------------------------

static int scenario_graft(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  char *reply = ww_echo(s.executor, "hello");
  if (!reply) return die("echo", ww_error());
  printf("echo=%s\n", reply);
  free(reply);
  ww_epoch e;
  if (ww_membrane_epoch(s.membrane, &e) != 0) return die("epoch", ww_error());
  printf("epoch=%" PRIu64 ",%" PRIu64 ",", e.seq, e.adopted_block);
  for (size_t i = 0; i < e.head_len; i++) printf("%02x", e.head[i]);
  printf("\n");
  ww_call *c = ww_call_new(s.host, system_Host_TYPE_ID, system_Host_id);
  system_Host_id_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) return die("host.id", ww_call_error(c));
  cp_data id = system_Host_id_Results_get_peerId(system_Host_id_Results_read(ww_results(c)));
  printf("peer=");
  for (uint32_t i = 0; i < id.len; i++) printf("%02x", id.ptr[i]);
  printf("\n");
  ww_call_free(c);
  printf("identity=%d ipfs=%d\n", s.identity != NULL, s.ipfs != NULL);
  ww_session_release(&s);
  return 0;
}

static struct {
  ww_cap *executor;
  long next, done, total;
  int errors;
} many;

static void many_send(void);

static void many_done(ww_call *c, void *arg) {
  long i = (long)(intptr_t)arg;
  char want[32];
  snprintf(want, sizeof want, "%ld", i);
  if (ww_call_error(c)) {
    if (many.errors++ == 0) printf("first-error=%s\n", ww_call_error(c));
  } else {
    cp_text t = system_Executor_echo_Results_get_response(system_Executor_echo_Results_read(ww_results(c)));
    if (strcmp(t.str, want) != 0 && many.errors++ == 0) printf("mismatch=%s/%s\n", t.str, want);
  }
  ww_call_free(c);
  many.done++;
  if (many.next < many.total) many_send();
  if (many.done == many.total) ww_stop(0);
}

static void many_send(void) {
  char text[32];
  snprintf(text, sizeof text, "%ld", many.next);
  ww_call *c = ww_call_new(many.executor, system_Executor_TYPE_ID, system_Executor_echo);
  system_Executor_echo_Params_set_message(system_Executor_echo_Params_init(ww_call_params(c)), text);
  ww_then(c, many_done, (void *)(intptr_t)many.next);
  ww_send(c);
  many.next++;
}

static int scenario_echo_many(long total, long window) {
  // graft is sent and its executor used at once: the first echo calls are pipelined on graft's
  // answer (promise pipelining), the rest keep `window` calls in flight.
  ww_cap *membrane = ww_bootstrap();
  ww_call *g = ww_call_new(membrane, stem_Membrane_TYPE_ID, stem_Membrane_graft);
  stem_Membrane_graft_Params_init(ww_call_params(g));
  ww_send(g);
  many.executor = ww_pipeline(g, 2); // graft results: identity 0, host 1, executor 2, ipfs 3
  many.total = total;
  for (long i = 0; i < window && i < total; i++) many_send();
  int status = ww_run();
  printf("done=%ld errors=%d status=%d\n", many.done, many.errors, status);
  ww_call_free(g);
  ww_cap_release(many.executor);
  ww_cap_release(membrane);
  return many.errors == 0 && many.done == total ? 0 : 4;
}

static int scenario_pipeline(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  // host.executor() and, before it returns, echo on the executor it will return.
  ww_call *e = ww_call_new(s.host, system_Host_TYPE_ID, system_Host_executor);
  system_Host_executor_Params_init(ww_call_params(e));
  ww_send(e);
  ww_cap *executor = ww_pipeline(e, 0);
  char *reply = ww_echo(executor, "through a promise");
  if (!reply) return die("pipelined echo", ww_error());
  printf("pipelined=%s\n", reply);
  free(reply);
  ww_cap_release(executor);
  ww_call_free(e);
  ww_session_release(&s);
  return 0;
}

static int scenario_serve(void) {
  ww_cap *t = new_tester();
  ww_set_bootstrap(t);
  ww_cap_release(t);
  int status = ww_run(); // until the host closes the connection
  printf("served=%d reason=%s\n", the_tester.calls, ww_disconnect_reason() ? ww_disconnect_reason() : "");
  ww_cap_release(the_tester.held);
  return status == 1 ? 0 : 5;
}

static int scenario_fail(void) {
  ww_cap *host = bootstrap();
  if (!host) return die("bootstrap", ww_error());
  ww_call *c = ww_call_new(host, sdktest_Tester_TYPE_ID, sdktest_Tester_fail);
  sdktest_Tester_fail_Params_set_reason(sdktest_Tester_fail_Params_init(ww_call_params(c)), "no particular reason");
  printf("wait=%d\n", ww_wait(c));
  printf("error=%d:%s\n", ww_call_error_type(c), ww_call_error(c) ? ww_call_error(c) : "");
  ww_call_free(c);
  c = ww_call_new(host, 0x1234567890abcdefULL, 3);
  cp_pb_init_struct(ww_call_params(c), 0, 0);
  ww_wait(c);
  printf("unknown=%d:%s\n", ww_call_error_type(c), ww_call_error(c) ? ww_call_error(c) : "");
  ww_call_free(c);
  // A call on the null capability fails here, without a round trip.
  c = ww_call_new(NULL, sdktest_Tester_TYPE_ID, sdktest_Tester_echo);
  ww_wait(c);
  printf("null=%d:%s\n", ww_call_error_type(c), ww_call_error(c) ? ww_call_error(c) : "");
  ww_call_free(c);
  ww_cap_release(host);
  return 0;
}

// A round trip with no side effect: whatever the host sent before answering it has arrived.
static void sync_with(ww_cap *host) {
  ww_call *c = ww_call_new(host, sdktest_Tester_TYPE_ID, sdktest_Tester_log);
  sdktest_Tester_log_Params_init(ww_call_params(c));
  ww_wait(c);
  ww_call_free(c);
}

static ww_cap *promise_of(ww_cap *host, ww_call **call) {
  *call = ww_call_new(host, sdktest_Tester_TYPE_ID, sdktest_Tester_promise);
  sdktest_Tester_promise_Params_init(ww_call_params(*call));
  if (ww_wait(*call) != 0) return NULL;
  uint32_t index = sdktest_Tester_promise_Results_get_cap(sdktest_Tester_promise_Results_read(ww_results(*call)));
  return ww_result_cap(*call, index);
}

static int settle(ww_cap *host, ww_cap *to) {
  ww_call *c = ww_call_new(host, sdktest_Tester_TYPE_ID, sdktest_Tester_settle);
  sdktest_Tester_settle_Params_builder p = sdktest_Tester_settle_Params_init(ww_call_params(c));
  if (to) sdktest_Tester_settle_Params_set_cap(p, ww_call_cap(c, to));
  int r = ww_wait(c);
  if (r != 0) printf("settle-error=%s\n", ww_call_error(c));
  ww_call_free(c);
  return r;
}

// The host hands out a promise (senderPromise) and resolves it later (Resolve): to its own
// object (remote) or to the guest's own (local: the guest must embargo until its Disembargo echoes).
static int scenario_resolve(bool local) {
  ww_cap *host = bootstrap();
  if (!host) return die("bootstrap", ww_error());
  ww_call *pc;
  ww_cap *p = promise_of(host, &pc);
  if (!p) return die("promise", ww_call_error(pc));
  ww_call_free(pc);
  ww_call *a = echo_call(p, "a"); // goes to the host, which holds it until the promise settles
  ww_cap *mine = local ? new_tester() : NULL;
  ww_counts k;
  ww_get_counts(&k);
  uint64_t resolves = k.resolves;
  if (settle(host, mine) != 0) return die("settle", "failed");
  if (local) {
    // The host sends its Resolve when the promise settles, on its own schedule: settle's answer may
    // come first. "b" and "c" must be made after the Resolve has arrived (while "a" may still be on its
    // way back through the host), which is what the embargo is for; made before it, they would go
    // through the host like "a", and by the time the Resolve came the promise could be gone with no
    // embargo at all. Round trips let it in, however late it is.
    for (ww_get_counts(&k); k.resolves == resolves; ww_get_counts(&k)) sync_with(host);
  }
  ww_call *b = echo_call(p, "b"); // after the Resolve: straight there (or held by the embargo)
  ww_call *c = echo_call(p, "c");
  ww_wait(a);
  ww_wait(b);
  ww_wait(c);
  printf("a=%s b=%s c=%s\n", echo_text(a), echo_text(b), echo_text(c));
  if (local) printf("order=%s\n", the_tester.log);
  ww_call_free(a);
  ww_call_free(b);
  ww_call_free(c);
  ww_cap_release(p);
  ww_cap_release(mine);
  sync_with(host); // the host's Release of our object (held by its promise) comes before this answer
  ww_cap_release(host);
  return 0;
}

static int scenario_big(size_t size) {
  ww_cap *t = new_tester();
  ww_set_bootstrap(t);
  ww_cap_release(t);
  ww_cap *host = bootstrap();
  if (!host) return die("bootstrap", ww_error());
  ww_call *c = ww_call_new(host, sdktest_Tester_TYPE_ID, sdktest_Tester_sink);
  uint8_t *data = sdktest_Tester_sink_Params_init_data(sdktest_Tester_sink_Params_init(ww_call_params(c)), size);
  if (!data) return die("sink", "could not build the message");
  for (size_t i = 0; i < size; i++) data[i] = (uint8_t)(i * 7);
  if (ww_wait(c) != 0) return die("sink", ww_call_error(c));
  printf("sent=%" PRIu64 "\n", sdktest_Tester_sink_Results_get_size(sdktest_Tester_sink_Results_read(ww_results(c))));
  fflush(stdout);
  ww_call_free(c);
  ww_cap_release(host);
  int status = ww_run(); // serve until the host closes
  printf("served=%d status=%d\n", the_tester.calls, status);
  return 0;
}

static int scenario_wait(void) {
  // Waits on the host; a host that sends garbage must make this fail, not hang.
  ww_session s;
  if (ww_graft(&s) != 0) {
    printf("error=%s\n", ww_error());
    printf("reason=%s\n", ww_disconnect_reason() ? ww_disconnect_reason() : "");
    fflush(stdout);
    return 3;
  }
  int status = ww_run();
  printf("reason=%s\n", ww_disconnect_reason() ? ww_disconnect_reason() : "");
  ww_session_release(&s);
  return status == 1 ? 3 : 0;
}

// The guest gives up on a call (ww_call_free before it settles): Finish tells the host, whose
// hang() then ends; a later call shows the connection is fine.
static void give_up(void *arg) { ww_call_free(arg); }
static void stop_loop(void *arg) {
  (void)arg;
  ww_stop(0);
}

static int scenario_cancel(void) {
  ww_cap *host = bootstrap();
  ww_call *c = ww_call_new(host, sdktest_Tester_TYPE_ID, sdktest_Tester_hang);
  sdktest_Tester_hang_Params_init(ww_call_params(c));
  ww_send(c);
  ww_timer(50, give_up, c);
  ww_timer(150, stop_loop, NULL);
  ww_run();
  ww_call *e = ww_call_new(host, sdktest_Tester_TYPE_ID, sdktest_Tester_log);
  sdktest_Tester_log_Params_init(ww_call_params(e));
  ww_wait(e);
  printf("after=%s\n", ww_call_error(e) ? ww_call_error(e) : "ok");
  ww_call_free(e);
  ww_cap_release(host);
  return 0;
}

// stdin (fd 0) and fd 4 in one loop: counts what arrives on stdin while answering the host's calls,
// until stdin ends.
static size_t stdin_bytes;
static void on_stdin(void *arg, const uint8_t *data, size_t len) {
  (void)arg;
  (void)data;
  stdin_bytes += len;
  if (len == 0) ww_stop(0);
}

static int scenario_stdin(void) {
  ww_cap *t = new_tester();
  ww_set_bootstrap(t);
  ww_cap_release(t);
  ww_on_stdin(on_stdin, NULL);
  int status = ww_run();
  printf("stdin=%zu status=%d served=%d\n", stdin_bytes, status, the_tester.calls);
  return 0;
}

static int scenario_children(void) {
  ww_session s;
  if (ww_graft(&s) != 0) return die("graft", ww_error());
  static const uint8_t fake_wasm[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  const char *args[] = {"one", "two", NULL};
  const char *env[] = {"A=1", NULL};
  ww_process p;
  if (ww_run_bytes(s.executor, fake_wasm, sizeof fake_wasm, args, env, &p) != 0) return die("runBytes", ww_error());
  if (ww_stream_write(p.stdin_stream, "to the child", 12) != 0) return die("write", ww_error());
  if (ww_stream_close(p.stdin_stream) != 0) return die("close", ww_error());
  char out[256];
  size_t n = 0;
  for (;;) {
    ssize_t r = ww_stream_read(p.stdout_stream, out + n, sizeof out - 1 - n);
    if (r < 0) return die("read", ww_error());
    if (r == 0) break;
    n += (size_t)r;
  }
  out[n] = 0;
  printf("stdout=%s\n", out);
  int32_t code = -1;
  if (ww_process_wait(&p, &code) != 0) return die("wait", ww_error());
  printf("exit=%d\n", code);
  ww_cap *child = ww_process_bootstrap(&p);
  if (!child) return die("bootstrap", ww_error());
  ww_call *c = echo_call(child, "hi child");
  ww_wait(c);
  printf("child-echo=%s\n", echo_text(c));
  ww_call_free(c);
  ww_cap_release(child);
  ww_process_release(&p);
  ww_cap *mine = new_tester();
  if (ww_spawn(s.executor, fake_wasm, sizeof fake_wasm, args, env, mine, &p) != 0) return die("spawn", ww_error());
  ww_cap_release(mine);
  if (ww_process_kill(&p) != 0) return die("kill", ww_error());
  if (ww_process_wait(&p, &code) != 0) return die("wait", ww_error());
  printf("killed=%d\n", code);
  ww_process_release(&p);
  ww_session_release(&s);
  return 0;
}

int main(int argc, char **argv) {
  const char *s = argc > 1 ? argv[1] : "graft";
  int status;
  if (strcmp(s, "graft") == 0) status = scenario_graft();
  else if (strcmp(s, "echo-many") == 0) status = scenario_echo_many(argc > 2 ? atol(argv[2]) : 1000, argc > 3 ? atol(argv[3]) : 100);
  else if (strcmp(s, "pipeline") == 0) status = scenario_pipeline();
  else if (strcmp(s, "serve") == 0) status = scenario_serve();
  else if (strcmp(s, "fail") == 0) status = scenario_fail();
  else if (strcmp(s, "resolve-remote") == 0) status = scenario_resolve(false);
  else if (strcmp(s, "resolve-local") == 0) status = scenario_resolve(true);
  else if (strcmp(s, "big") == 0) status = scenario_big(argc > 2 ? (size_t)atol(argv[2]) : 8u << 20);
  else if (strcmp(s, "wait") == 0) status = scenario_wait();
  else if (strcmp(s, "children") == 0) status = scenario_children();
  else if (strcmp(s, "stdin") == 0) status = scenario_stdin();
  else if (strcmp(s, "cancel") == 0) status = scenario_cancel();
  else {
    fprintf(stderr, "sdktest: unknown scenario %s\n", s);
    return 2;
  }
  print_counts();
  fflush(stdout);
  return status;
}
