// The guest's RPC engine (guest/sdk/src/rpc.c) natively, under AddressSanitizer and
// UndefinedBehaviorSanitizer, fed what a hostile host could send. The engine is transport-agnostic: it
// takes bytes in ww__conn.in and leaves bytes in ww__conn.out, so this harness stands in for the loop.
//
//   rpcfuzz ITERATIONS SEED
//
// Each iteration forks a child that sets up a session (bootstrap, pipelined calls, an export), then feeds
// a stream of well-formed host messages (Return, Resolve, Disembargo, Bootstrap, Call, Finish, Release,
// Unimplemented, Abort...), some mutated at random, serving and answering as a guest would. A child that
// trips a sanitizer dies; the parent reports the seed. Prints counts of streams and aborted connections.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ww_internal.h"

// ---- the loop's side -------------------------------------------------------------------------------

#define QUEUE 65536
static struct {
  void (*fn)(void *);
  void *arg;
} tasks[QUEUE];
static size_t head, tail;

void ww__defer(void (*fn)(void *), void *arg) {
  if (tail - head < QUEUE) {
    tasks[tail % QUEUE].fn = fn;
    tasks[tail % QUEUE].arg = arg;
    tail++;
  }
}

void ww_defer(void (*fn)(void *), void *arg) { ww__defer(fn, arg); }

static void run_tasks(void) {
  for (int n = 0; head != tail && n < 100000; n++) {
    size_t i = head++ % QUEUE;
    tasks[i].fn(tasks[i].arg);
  }
}

uint64_t ww__loop_turns(void) { return 0; }
uint64_t ww__partial_writes(void) { return 0; }

bool ww__loop_once(bool block) {
  (void)block;
  run_tasks();
  return false;
}

// ---- randomness and mutation -------------------------------------------------------------------------

static uint64_t rng;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

static void mutate(uint8_t *m, size_t n) {
  int edits = 1 + (int)(next() % 4);
  for (int e = 0; e < edits; e++) {
    size_t at = next() % n;
    switch (next() % 5) {
      case 0: m[at] ^= (uint8_t)(1u << (next() % 8)); break;
      case 1: m[at] = (uint8_t)next(); break;
      case 2: if (at + 8 <= n) cp_store64(m + at - at % 8, ((uint64_t)next() << 32) | next()); break;
      case 3: if (at + 4 <= n && at >= 8) cp_store32(m + at, next() % 16); break; // small ids
      default: if (at + 8 <= n) memset(m + at - at % 8, 0, 8); break;
    }
  }
}

// ---- a guest object: answers at once, later, with a capability, or fails ---------------------------------

static ww_ctx *later[64];
static int nlater;

static void dispatch(void *self, ww_ctx *ctx) {
  (void)self;
  cp_ptr params = ww_ctx_params(ctx);
  cp_struct p = cp_ptr_struct(params, NULL);
  cp_text t = cp_ptr_text(cp_struct_ptr(p, 0), NULL);
  switch (next() % 4) {
    case 0: {
      cp_struct_b r = cp_pb_init_struct(ww_ctx_results(ctx), 1, 2);
      cp_pb_set_text(cp_b_ptr(r, 0), t.str, t.len);
      ww_cap *given = ww_ctx_param_cap(ctx, 0);
      if (given) cp_pb_set_cap(cp_b_ptr(r, 1), ww_ctx_result_cap(ctx, given));
      ww_cap_release(given);
      ww_return(ctx);
      break;
    }
    case 1:
      if (nlater < 64) {
        later[nlater++] = ctx;
        break;
      }
      /* fall through */
    case 2:
      ww_fail(ctx, WW_FAILED, "no");
      break;
    default: {
      ww_cap *self_cap = ww_serve(dispatch, NULL, NULL);
      cp_struct_b r = cp_pb_init_struct(ww_ctx_results(ctx), 0, 1);
      cp_pb_set_cap(cp_b_ptr(r, 0), ww_ctx_result_cap(ctx, self_cap));
      ww_cap_release(self_cap);
      ww_return(ctx);
      break;
    }
  }
}

static void answer_later(void) {
  while (nlater > 0) {
    ww_ctx *ctx = later[--nlater];
    cp_pb_init_struct(ww_ctx_results(ctx), 0, 0);
    ww_return(ctx);
  }
}

// ---- host messages ---------------------------------------------------------------------------------------

typedef struct msg {
  uint8_t *bytes;
  size_t len;
} msg;

static msg frame(cp_message *m) {
  msg f;
  f.len = cp_frame_size(m);
  f.bytes = malloc(f.len);
  cp_frame_write(m, f.bytes);
  cp_message_free(m);
  return f;
}

static rpc_Message_builder begin(cp_message *m) {
  cp_message_init(m, 64);
  return rpc_Message_new_root(m);
}

static void path(rpc_PromisedAnswer_builder pa, uint32_t q, int depth) {
  rpc_PromisedAnswer_set_questionId(pa, q);
  cp_list_b ops = rpc_PromisedAnswer_init_transform(pa, (uint32_t)depth);
  for (int i = 0; i < depth; i++) rpc_PromisedAnswer_Op_set_getPointerField(rpc_PromisedAnswer_Op_list_at(ops, (uint32_t)i), 0);
}

static int corpus(msg *out) {
  int n = 0;
  cp_message m;
  { // the bootstrap's answer: a promise (senderPromise 7)
    rpc_Return_builder r = rpc_Message_init_return(begin(&m));
    rpc_Return_set_answerId(r, 0);
    rpc_Payload_builder p = rpc_Return_init_results(r);
    cp_pb_set_cap(rpc_Payload_init_content(p), 0);
    rpc_CapDescriptor_set_senderPromise(rpc_CapDescriptor_list_at(rpc_Payload_init_capTable(p, 1), 0), 7);
    out[n++] = frame(&m);
  }
  { // ... resolved to senderHosted 8
    rpc_Resolve_builder r = rpc_Message_init_resolve(begin(&m));
    rpc_Resolve_set_promiseId(r, 7);
    rpc_CapDescriptor_set_senderHosted(rpc_Resolve_init_cap(r), 8);
    out[n++] = frame(&m);
  }
  { // question 1's answer holds our own export 0 (an embargo: calls were pipelined on it)
    rpc_Return_builder r = rpc_Message_init_return(begin(&m));
    rpc_Return_set_answerId(r, 1);
    rpc_Payload_builder p = rpc_Return_init_results(r);
    cp_struct_b s = cp_pb_init_struct(rpc_Payload_init_content(p), 0, 1);
    cp_pb_set_cap(cp_b_ptr(s, 0), 0);
    rpc_CapDescriptor_set_receiverHosted(rpc_CapDescriptor_list_at(rpc_Payload_init_capTable(p, 1), 0), 0);
    out[n++] = frame(&m);
  }
  { // ... its Disembargo echoed
    rpc_Disembargo_builder d = rpc_Message_init_disembargo(begin(&m));
    path(rpc_MessageTarget_init_promisedAnswer(rpc_Disembargo_init_target(d)), 1, 1);
    rpc_Disembargo_Context_set_receiverLoopback(rpc_Disembargo_init_context(d), 0);
    out[n++] = frame(&m);
  }
  { // the host bootstraps us
    rpc_Bootstrap_set_questionId(rpc_Message_init_bootstrap(begin(&m)), 5);
    out[n++] = frame(&m);
  }
  for (uint32_t q = 6; q <= 8; q++) { // calls: on export 0, then pipelined on answer 6, with capabilities
    rpc_Call_builder c = rpc_Message_init_call(begin(&m));
    rpc_Call_set_questionId(c, q);
    rpc_Call_set_interfaceId(c, 0x1234);
    rpc_Call_set_methodId(c, (uint16_t)q);
    rpc_MessageTarget_builder t = rpc_Call_init_target(c);
    if (q == 6) rpc_MessageTarget_set_importedCap(t, 0);
    else path(rpc_MessageTarget_init_promisedAnswer(t), q == 7 ? 6 : 5, q == 7 ? 1 : 0);
    rpc_Payload_builder p = rpc_Call_init_params(c);
    cp_struct_b s = cp_pb_init_struct(rpc_Payload_init_content(p), 0, 2);
    cp_pb_set_text(cp_b_ptr(s, 0), "hello", 5);
    cp_pb_set_cap(cp_b_ptr(s, 1), 0);
    cp_list_b table = rpc_Payload_init_capTable(p, 2);
    rpc_CapDescriptor_set_senderHosted(rpc_CapDescriptor_list_at(table, 0), 9);
    path(rpc_CapDescriptor_init_receiverAnswer(rpc_CapDescriptor_list_at(table, 1)), 5, 0);
    out[n++] = frame(&m);
  }
  { // the host pipelined on answer 6 and asks us to reflect
    rpc_Disembargo_builder d = rpc_Message_init_disembargo(begin(&m));
    path(rpc_MessageTarget_init_promisedAnswer(rpc_Disembargo_init_target(d)), 6, 1);
    rpc_Disembargo_Context_set_senderLoopback(rpc_Disembargo_init_context(d), 3);
    out[n++] = frame(&m);
  }
  { // an exception for question 2
    rpc_Return_builder r = rpc_Message_init_return(begin(&m));
    rpc_Return_set_answerId(r, 2);
    rpc_Exception_builder e = rpc_Return_init_exception(r);
    rpc_Exception_set_reason(e, "host says no");
    out[n++] = frame(&m);
  }
  for (uint32_t q = 5; q <= 8; q++) {
    rpc_Finish_set_questionId(rpc_Message_init_finish(begin(&m)), q);
    out[n++] = frame(&m);
  }
  { // Release of our export 0
    rpc_Release_builder r = rpc_Message_init_release(begin(&m));
    rpc_Release_set_id(r, 0);
    rpc_Release_set_referenceCount(r, 1);
    out[n++] = frame(&m);
  }
  { // Unimplemented echo of our call 3
    rpc_Message_builder u = rpc_Message_init_unimplemented(begin(&m));
    rpc_Call_set_questionId(rpc_Message_init_call(u), 3);
    out[n++] = frame(&m);
  }
  { // a Level 3 message
    rpc_Provide_set_questionId(rpc_Message_init_provide(begin(&m)), 11);
    out[n++] = frame(&m);
  }
  return n;
}

// ---- one stream ----------------------------------------------------------------------------------------

static void feed(const uint8_t *bytes, size_t len) {
  ww_conn *c = &ww__conn;
  if (!c->up || len == 0) return;
  if (c->in_len + len > c->in_cap) {
    c->in_cap = c->in_len + len + 1024;
    c->in = realloc(c->in, c->in_cap);
  }
  memcpy(c->in + c->in_len, bytes, len);
  c->in_len += len;
  rpc_feed();
  run_tasks();
  c->out_head = c->out_len = 0; /* the host reads everything */
}

static int stream(msg *corp, int ncorp) {
  rpc_init();
  ww_cap *mine = ww_serve(dispatch, NULL, NULL);
  ww_set_bootstrap(mine);
  ww_call *boot = rpc_bootstrap();                     // question 0
  ww_cap *host = ww_pipeline_path(boot, NULL, 0);
  ww_call_free(boot);
  ww_call *c1 = ww_call_new(host, 0x1234, 1);          // question 1, with our object as a param
  cp_struct_b p = cp_pb_init_struct(ww_call_params(c1), 0, 1);
  cp_pb_set_cap(cp_b_ptr(p, 0), ww_call_cap(c1, mine));
  ww_send(c1);
  ww_cap *pipe = ww_pipeline(c1, 0);
  ww_call *c2 = ww_call_new(pipe, 0x1234, 2);          // question 2, pipelined on question 1
  cp_pb_init_struct(ww_call_params(c2), 0, 0);
  ww_send(c2);
  ww_call *c3 = ww_call_new(host, 0x1234, 3);          // question 3
  cp_pb_init_struct(ww_call_params(c3), 0, 0);
  ww_send(c3);
  run_tasks();
  ww__conn.out_head = ww__conn.out_len = 0;
  // Mostly the corpus in order (so that later messages meet the state earlier ones made), with
  // messages skipped, repeated, taken at random, mutated or cut short now and then.
  for (int i = 0; i < ncorp * 2 && ww__conn.up; i++) {
    unsigned pick = next() % 8;
    if (pick == 0) continue;
    msg m = corp[pick == 1 ? next() % (unsigned)ncorp : (unsigned)(i % ncorp)];
    uint8_t *copy = malloc(m.len);
    memcpy(copy, m.bytes, m.len);
    if (next() % 6 == 0) mutate(copy, m.len);
    size_t len = m.len;
    if (next() % 32 == 0) len = next() % m.len; // cut short
    feed(copy, len);
    free(copy);
    if (next() % 3 == 0) answer_later();
    if (next() % 5 == 0 && pipe) {               // the application drops things as it goes
      ww_cap_release(pipe);
      pipe = NULL;
    }
  }
  answer_later();
  ww_call_free(c1);
  ww_call_free(c2);
  ww_call_free(c3);
  ww_cap_release(pipe);
  ww_cap_release(host);
  ww_cap_release(mine);
  run_tasks();
  rpc_close(WW_DISCONNECTED, "done");
  run_tasks();
  if (getenv("RPCFUZZ_VERBOSE")) fprintf(stderr, "%s\n", ww__conn.reason ? ww__conn.reason : "-");
  return ww__conn.reason && strstr(ww__conn.reason, "protocol violation") ? 1 : 0;
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 1000;
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
  msg corp[64];
  int ncorp = corpus(corp);
  long violations = 0;
  for (long i = 0; i < iterations; i++) {
    uint64_t s = seed * 1000003u + (uint64_t)i;
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 2;
    }
    if (pid == 0) {
      rng = s | 1;
      _exit(stream(corp, ncorp) ? 10 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 10) {
      violations++;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      printf("stream %ld (seed %llu) died: %s %d\n", i, (unsigned long long)s,
             WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      return 1;
    }
  }
  printf("streams=%ld violations=%ld\n", iterations, violations);
  return 0;
}
