/* rpc.c: Cap'n Proto RPC, Level 1, two-party, for a guest (rpc.capnp).
 *
 * The four tables of rpc.capnp: questions (our calls, ids we choose), answers (the peer's calls,
 * ids it chooses), imports (its capabilities we hold) and exports (ours it holds), plus the
 * embargoes we are waiting on. The engine never runs application code while it handles a message:
 * completions and incoming calls are deferred to the loop (ww__defer), so a callback may send,
 * wait and release freely. Messages that application code reads later (a Return's results, a
 * Call's params) are copied out of the input buffer ("frames"); everything else is read in place.
 *
 * Reading is bounds-checked by cp.h: a malformed message sets its error, and the connection is
 * then aborted with the reason (rpc.capnp, Abort), never crashing the guest.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ww_internal.h"

ww_conn ww__conn;

typedef struct frame {
  cp_message msg;
  size_t len;
  uint8_t bytes[];
} frame;

enum { PEND_CALL, PEND_CTX, PEND_LOOPBACK, PEND_PROMISE };

struct pending {
  pending *next;
  uint8_t kind;
  void *item;            /* ww_call (PEND_CALL), ww_ctx (PEND_CTX), ww_cap (PEND_PROMISE) */
  uint32_t embargo;      /* PEND_LOOPBACK */
  uint16_t *path;        /* on an answer: where in its results */
  uint16_t depth;
};

struct answer {
  uint32_t id;
  bool returned, finished, has_outcome;
  ww_ctx *ctx;           /* while being served */
  cp_message *reply;     /* the Return we sent, kept for calls pipelined on it until Finish */
  cp_ptr content;
  ww_cap **caps;
  uint32_t ncaps;
  uint8_t etype;
  char *error;
  pending *qhead, *qtail;/* pipelined on it before it had an outcome, in arrival order */
  uint32_t *exported;    /* export ids the Return handed out (Finish.releaseResultCaps) */
  uint32_t nexported;
};

typedef struct exportent {
  ww_cap *cap;           /* a reference */
  uint32_t refs;         /* the peer's references */
  bool promise;          /* exported as senderPromise: a Resolve is owed */
} exportent;

static struct {
  idtab questions;       /* ww_call */
  uint32_t live_questions;
  u32map answers;        /* answer */
  u32map imports;        /* ww_cap */
  idtab exports;         /* exportent */
  idtab embargoes;       /* ww_cap (QUEUED) */
  ww_cap *bootstrap;
  cp_message *pool[32];
  uint32_t npool;
  char violation[200];
  bool violated;
  frame *retained;       /* the frame made of the message being handled, if any */
  const uint8_t *cur;
  size_t cur_len;
  uint32_t *post_resolve;/* broken exports to Resolve after the message carrying them */
  uint32_t npost, postcap;
  ww_counts stats;
} R;

void ww_get_counts(ww_counts *out) {
  *out = R.stats;
  out->questions = R.live_questions;
  out->answers = R.answers.len;
  out->imports = R.imports.len;
  out->exports = R.exports.count - R.exports.nfree;
  out->embargoes = R.embargoes.count - R.embargoes.nfree;
  out->loop_turns = ww__loop_turns();
  out->partial_writes = ww__partial_writes();
}

/* ---- memory ----------------------------------------------------------------------------------- */

static void oom(void) {
  static const char msg[] = "ww: out of memory\n";
  (void)!write(2, msg, sizeof msg - 1);
  _Exit(70);
}

void *ww__alloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) oom();
  return p;
}

void *ww__realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) oom();
  return q;
}

char *ww__strdup(const char *s, size_t len) {
  char *d = ww__alloc(len + 1);
  memcpy(d, s, len);
  return d;
}

static void push_u32(uint32_t **a, uint32_t *n, uint32_t v) {
  *a = ww__realloc(*a, sizeof(uint32_t) * (*n + 1));
  (*a)[(*n)++] = v;
}

/* ---- tables ------------------------------------------------------------------------------------ */

uint32_t idtab_add(idtab *t, void *v) {
  uint32_t id;
  if (t->nfree > 0) {
    id = t->free[--t->nfree];
  } else {
    if (t->count == t->cap) {
      t->cap = t->cap ? t->cap * 2 : 16;
      t->items = ww__realloc(t->items, sizeof(void *) * t->cap);
    }
    id = t->count++;
  }
  t->items[id] = v;
  return id;
}

void *idtab_get(const idtab *t, uint32_t id) { return id < t->count ? t->items[id] : NULL; }

void idtab_del(idtab *t, uint32_t id) {
  if (id >= t->count || !t->items[id]) return;
  t->items[id] = NULL;
  if (t->nfree == t->freecap) {
    t->freecap = t->freecap ? t->freecap * 2 : 16;
    t->free = ww__realloc(t->free, sizeof(uint32_t) * t->freecap);
  }
  t->free[t->nfree++] = id;
}

static uint32_t hash32(uint32_t k) {
  k ^= k >> 16;
  k *= 0x7feb352dU;
  k ^= k >> 15;
  k *= 0x846ca68bU;
  return k ^ (k >> 16);
}

void *map_get(const u32map *m, uint32_t k) {
  if (m->len == 0) return NULL;
  for (uint32_t i = hash32(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->vals[i]) return NULL;
    if (m->keys[i] == k) return m->vals[i];
  }
}

void map_put(u32map *m, uint32_t k, void *v) {
  if ((m->len + 1) * 2 > m->cap) {
    u32map bigger = {0};
    bigger.cap = m->cap ? m->cap * 2 : 64;
    bigger.keys = ww__alloc(sizeof(uint32_t) * bigger.cap);
    bigger.vals = ww__alloc(sizeof(void *) * bigger.cap);
    for (uint32_t i = 0; i < m->cap; i++) {
      if (m->vals[i]) map_put(&bigger, m->keys[i], m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    *m = bigger;
  }
  uint32_t i = hash32(k) & (m->cap - 1);
  while (m->vals[i] && m->keys[i] != k) i = (i + 1) & (m->cap - 1);
  if (!m->vals[i]) m->len++;
  m->keys[i] = k;
  m->vals[i] = v;
}

void *map_del(u32map *m, uint32_t k) {
  if (m->len == 0) return NULL;
  uint32_t i = hash32(k) & (m->cap - 1);
  while (m->vals[i] && m->keys[i] != k) i = (i + 1) & (m->cap - 1);
  void *v = m->vals[i];
  if (!v) return NULL;
  /* Backward-shift deletion: later entries of the probe chain move into the hole. */
  uint32_t hole = i;
  for (uint32_t j = (i + 1) & (m->cap - 1); m->vals[j]; j = (j + 1) & (m->cap - 1)) {
    uint32_t home = hash32(m->keys[j]) & (m->cap - 1);
    bool moves = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (moves) {
      m->keys[hole] = m->keys[j];
      m->vals[hole] = m->vals[j];
      hole = j;
    }
  }
  m->vals[hole] = NULL;
  m->len--;
  return v;
}

/* ---- messages out ------------------------------------------------------------------------------- */

static cp_message *msg_new(void) {
  if (R.npool > 0) return R.pool[--R.npool];
  cp_message *m = ww__alloc(sizeof *m);
  cp_message_init(m, 128);
  return m;
}

static void msg_done(cp_message *m) {
  if (!m) return;
  if (R.npool < 32 && m->nsegs == 1 && m->first_words == 128) {
    cp_message_reset(m);
    if (!m->error) {
      R.pool[R.npool++] = m;
      return;
    }
  }
  cp_message_free(m);
  free(m);
}

static void out_reserve(size_t n) {
  ww_conn *c = &ww__conn;
  if (c->out_head == c->out_len) c->out_head = c->out_len = 0;
  if (c->out_len + n <= c->out_cap) return;
  if (c->out_head > 0) {
    memmove(c->out, c->out + c->out_head, c->out_len - c->out_head);
    c->out_len -= c->out_head;
    c->out_head = 0;
    if (c->out_len + n <= c->out_cap) return;
  }
  size_t cap = c->out_cap ? c->out_cap : 65536;
  while (cap < c->out_len + n) cap *= 2;
  c->out = ww__realloc(c->out, cap);
  c->out_cap = cap;
}

static void send_resolve(uint32_t export_id, ww_cap *target);
static ww_cap *shorten(ww_cap *c);

/* WW_RPC_TRACE=1 in the guest's environment: one line per message on stderr. */
static int trace = -1;
static const char *const KINDS[] = {"unimplemented", "abort", "call", "return", "finish", "resolve",
                                    "release", "obsoleteSave", "bootstrap", "obsoleteDelete", "provide",
                                    "accept", "join", "disembargo"};

static void trace_msg(const char *dir, cp_message *m) {
  if (trace < 0) {
    const char *t = getenv("WW_RPC_TRACE");
    trace = t && *t && *t != '0';
  }
  if (!trace) return;
  rpc_Message msg = rpc_Message_root(m);
  unsigned which = rpc_Message_which(msg);
  uint32_t id = 0;
  switch (which) {
    case rpc_Message_which_call: id = rpc_Call_get_questionId(rpc_Message_get_call(msg)); break;
    case rpc_Message_which_return: id = rpc_Return_get_answerId(rpc_Message_get_return(msg)); break;
    case rpc_Message_which_finish: id = rpc_Finish_get_questionId(rpc_Message_get_finish(msg)); break;
    case rpc_Message_which_resolve: id = rpc_Resolve_get_promiseId(rpc_Message_get_resolve(msg)); break;
    case rpc_Message_which_release: id = rpc_Release_get_id(rpc_Message_get_release(msg)); break;
    case rpc_Message_which_bootstrap: id = rpc_Bootstrap_get_questionId(rpc_Message_get_bootstrap(msg)); break;
    case rpc_Message_which_disembargo: {
      rpc_Disembargo_Context c = rpc_Disembargo_get_context(rpc_Message_get_disembargo(msg));
      id = rpc_Disembargo_Context_which(c) == rpc_Disembargo_Context_which_senderLoopback
               ? rpc_Disembargo_Context_get_senderLoopback(c)
               : rpc_Disembargo_Context_get_receiverLoopback(c) | 0x80000000u;
      break;
    }
    default: break;
  }
  fprintf(stderr, "ww rpc %s %s %u\n", dir, which < 14 ? KINDS[which] : "?", id);
}

static void send_msg(cp_message *m) {
  if (!ww__conn.up) return;
  trace_msg("->", m);
  size_t n = cp_frame_size(m);
  out_reserve(n);
  cp_frame_write(m, ww__conn.out + ww__conn.out_len);
  ww__conn.out_len += n;
  /* Broken capabilities exported as promises are resolved (to their exception) right after the
   * message that carried them (rpc.capnp, CapDescriptor.senderPromise and Resolve). */
  while (R.npost > 0) {
    uint32_t id = R.post_resolve[--R.npost];
    exportent *e = idtab_get(&R.exports, id);
    if (e && e->promise) {
      e->promise = false;
      send_resolve(id, e->cap);
    }
  }
}

static void violation(const char *fmt, ...) {
  if (R.violated) return;
  R.violated = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(R.violation, sizeof R.violation, fmt, ap);
  va_end(ap);
}

static void send_abort(const char *reason) {
  cp_message *m = msg_new();
  rpc_Exception_builder e = rpc_Message_init_abort(rpc_Message_new_root(m));
  rpc_Exception_set_type(e, rpc_Exception_Type_failed);
  rpc_Exception_set_reason(e, reason);
  send_msg(m);
  msg_done(m);
}

/* ---- capabilities ----------------------------------------------------------------------------- */

static ww_cap *new_cap(uint8_t kind) {
  ww_cap *c = ww__alloc(sizeof *c);
  c->refs = 1;
  c->kind = kind;
  return c;
}

static ww_cap *broken(uint8_t type, const char *reason) {
  ww_cap *c = new_cap(CAP_BROKEN);
  c->etype = type;
  c->reason = ww__strdup(reason, strlen(reason));
  return c;
}

ww_cap *ww_cap_ref(ww_cap *c) {
  if (c) c->refs++;
  return c;
}

static void call_unref(ww_call *c);

static void drop_task(void *arg) {
  ww_cap *c = arg;
  c->drop(c->self);
  free(c);
}

static void send_release(uint32_t id, uint32_t count) {
  cp_message *m = msg_new();
  rpc_Release_builder r = rpc_Message_init_release(rpc_Message_new_root(m));
  rpc_Release_set_id(r, id);
  rpc_Release_set_referenceCount(r, count);
  send_msg(m);
  msg_done(m);
}

void ww_cap_release(ww_cap *c) {
  if (!c || --c->refs > 0) return;
  ww_cap *resolved = c->resolved, *target = c->embargo_target;
  switch (c->kind) {
    case CAP_IMPORT:
      /* rpc.capnp, Release: the peer counts every time it sent us this id. */
      if (!c->dead && map_get(&R.imports, c->id) == c) {
        map_del(&R.imports, c->id);
        send_release(c->id, c->remote_refs);
      }
      break;
    case CAP_PIPELINE:
      if (c->call) {
        for (ww_cap **p = &c->call->pipes; *p; p = &(*p)->pnext) {
          if (*p == c) {
            *p = c->pnext;
            break;
          }
        }
        call_unref(c->call);
      }
      break;
    case CAP_BROKEN:
      free(c->reason);
      break;
    default:
      break;
  }
  free(c->path);
  if (c->kind == CAP_LOCAL && c->drop) {
    ww__defer(drop_task, c); /* application code runs from the loop */
  } else {
    free(c);
  }
  ww_cap_release(resolved);
  ww_cap_release(target);
}

static ww_cap *shorten(ww_cap *c) {
  while (c && c->resolved) c = c->resolved;
  return c;
}

ww_cap *ww_serve(ww_dispatch_fn dispatch, void *self, void (*drop)(void *self)) {
  ww_cap *c = new_cap(CAP_LOCAL);
  c->dispatch = dispatch;
  c->self = self;
  c->drop = drop;
  return c;
}

static uint32_t export_cap(ww_cap *t, bool promise) {
  if (t->export_id) {
    exportent *e = idtab_get(&R.exports, t->export_id - 1);
    e->refs++;
    return t->export_id - 1;
  }
  exportent *e = ww__alloc(sizeof *e);
  e->cap = ww_cap_ref(t);
  e->refs = 1;
  e->promise = promise;
  uint32_t id = idtab_add(&R.exports, e);
  t->export_id = id + 1;
  return id;
}

static void release_export(uint32_t id, uint32_t count) {
  exportent *e = idtab_get(&R.exports, id);
  if (!e) return;
  e->refs = count >= e->refs ? 0 : e->refs - count;
  if (e->refs > 0) return;
  idtab_del(&R.exports, id);
  e->cap->export_id = 0;
  ww_cap_release(e->cap);
  free(e);
}

static void write_path(rpc_PromisedAnswer_builder pa, uint32_t qid, const uint16_t *path, uint16_t depth) {
  rpc_PromisedAnswer_set_questionId(pa, qid);
  cp_list_b ops = rpc_PromisedAnswer_init_transform(pa, depth);
  for (uint16_t i = 0; i < depth; i++) {
    rpc_PromisedAnswer_Op_set_getPointerField(rpc_PromisedAnswer_Op_list_at(ops, i), path[i]);
  }
}

/* Describes a capability to the peer (rpc.capnp, CapDescriptor): its own (receiverHosted), an
 * answer of its still pending (receiverAnswer), or ours (senderHosted, or senderPromise for
 * what is not settled yet: a Resolve follows). Returns 1 + the export id it used, or 0. */
static uint32_t describe(ww_cap *cap, rpc_CapDescriptor_builder d) {
  ww_cap *t = shorten(cap);
  if (!t) {
    rpc_CapDescriptor_set_none(d);
    return 0;
  }
  switch (t->kind) {
    case CAP_IMPORT:
      if (!t->dead) {
        rpc_CapDescriptor_set_receiverHosted(d, t->id);
        return 0;
      }
      break;
    case CAP_PIPELINE: {
      ww_call *q = t->call;
      if (q && q->is_question && !q->returned && !q->finish_sent) {
        write_path(rpc_CapDescriptor_init_receiverAnswer(d), q->qid, t->path, t->depth);
        return 0;
      }
      break;
    }
    case CAP_LOCAL: {
      uint32_t id = export_cap(t, false);
      rpc_CapDescriptor_set_senderHosted(d, id);
      return id + 1;
    }
    default:
      break;
  }
  uint32_t id = export_cap(t, true);
  rpc_CapDescriptor_set_senderPromise(d, id);
  if (t->kind == CAP_BROKEN || (t->kind == CAP_IMPORT && t->dead)) {
    if (R.npost == R.postcap) {
      R.postcap = R.postcap ? R.postcap * 2 : 8;
      R.post_resolve = ww__realloc(R.post_resolve, sizeof(uint32_t) * R.postcap);
    }
    R.post_resolve[R.npost++] = id;
  }
  return id + 1;
}

static void send_resolve(uint32_t export_id, ww_cap *target) {
  cp_message *m = msg_new();
  rpc_Resolve_builder r = rpc_Message_init_resolve(rpc_Message_new_root(m));
  rpc_Resolve_set_promiseId(r, export_id);
  ww_cap *t = shorten(target);
  if (t && (t->kind == CAP_BROKEN || (t->kind == CAP_IMPORT && t->dead))) {
    rpc_Exception_builder e = rpc_Resolve_init_exception(r);
    rpc_Exception_set_type(e, (rpc_Exception_Type)(t->kind == CAP_BROKEN ? t->etype : WW_DISCONNECTED));
    rpc_Exception_set_reason(e, t->kind == CAP_BROKEN ? t->reason : "disconnected");
  } else {
    describe(t, rpc_Resolve_init_cap(r));
  }
  send_msg(m);
  msg_done(m);
}

static ww_cap *import_cap(uint32_t id, bool promise) {
  ww_cap *c = map_get(&R.imports, id);
  if (c) {
    c->refs++;
    c->remote_refs++;
    return c;
  }
  c = new_cap(CAP_IMPORT);
  c->id = id;
  c->remote_refs = 1;
  c->is_promise = promise;
  map_put(&R.imports, id, c);
  return c;
}

static uint16_t *read_path(rpc_PromisedAnswer pa, uint16_t *depth) {
  cp_list ops = rpc_PromisedAnswer_get_transform(pa);
  uint32_t n = cp_list_len(ops);
  if (n > 64) n = 64; /* deeper than any struct nesting the reader allows */
  uint16_t *path = ww__alloc(sizeof(uint16_t) * (n ? n : 1));
  uint16_t d = 0;
  for (uint32_t i = 0; i < n; i++) {
    rpc_PromisedAnswer_Op op = rpc_PromisedAnswer_Op_list_get(ops, i);
    if (rpc_PromisedAnswer_Op_which(op) == rpc_PromisedAnswer_Op_which_getPointerField) {
      path[d++] = rpc_PromisedAnswer_Op_get_getPointerField(op);
    }
  }
  *depth = d;
  return path;
}

/* The capability at a pointer path of some results (a reference). */
static ww_cap *navigate(cp_ptr content, ww_cap **caps, uint32_t ncaps, const uint16_t *path,
                        uint16_t depth) {
  cp_ptr p = content;
  for (uint16_t i = 0; i < depth; i++) p = cp_struct_ptr(cp_ptr_struct(p, NULL), path[i]);
  uint32_t index = cp_ptr_cap(p);
  if (index == CP_NULL_CAP || index >= ncaps || !caps[index]) {
    return broken(WW_FAILED, "the pipelined capability is not a capability in the results");
  }
  return ww_cap_ref(caps[index]);
}

static ww_cap *navigate_answer(answer *a, const uint16_t *path, uint16_t depth) {
  if (a->error) return broken(a->etype, a->error);
  return navigate(a->content, a->caps, a->ncaps, path, depth);
}

static ww_cap *navigate_call(ww_call *c, const uint16_t *path, uint16_t depth) {
  if (c->error) return broken(c->etype, c->error);
  return navigate(c->results, c->rcaps, c->nrcaps, path, depth);
}

static void pend(pending **head, pending **tail, uint8_t kind, void *item, uint32_t embargo,
                 uint16_t *path, uint16_t depth) {
  pending *p = ww__alloc(sizeof *p);
  p->kind = kind;
  p->item = item;
  p->embargo = embargo;
  p->path = path;
  p->depth = depth;
  if (*tail) (*tail)->next = p;
  else *head = p;
  *tail = p;
}

static ww_cap *read_desc(rpc_CapDescriptor d);

/* ---- calls out ----------------------------------------------------------------------------------- */

static void settle_task(void *arg) {
  ww_call *c = arg;
  ww_call_fn fn = c->then;
  c->then = NULL;
  if (fn) fn(c, c->then_arg);
  call_unref(c);
}

static void resolve_cap(ww_cap *p, ww_cap *target);

/* The call has its outcome: pipelines resolve to what they point at (or to the error). */
static void resolve_pipes(ww_call *c) {
  ww_cap *pipes = c->pipes;
  c->pipes = NULL;
  while (pipes) {
    ww_cap *p = pipes;
    pipes = p->pnext;
    p->pnext = NULL;
    ww_cap *t = navigate_call(c, p->path, p->depth);
    ww_cap *s = shorten(t);
    if (c->is_question && p->calls_sent && s && s->kind == CAP_LOCAL && ww__conn.up) {
      /* Calls went to the peer through the promised answer and will be reflected back to our own
       * object: later calls wait until the peer echoes this Disembargo, so that they cannot
       * overtake those (rpc.capnp, Disembargo; E-order). Sent before our Finish. */
      ww_cap *e = new_cap(CAP_QUEUED);
      e->embargo_target = t;
      uint32_t eid = idtab_add(&R.embargoes, ww_cap_ref(e));
      cp_message *m = msg_new();
      rpc_Disembargo_builder d = rpc_Message_init_disembargo(rpc_Message_new_root(m));
      write_path(rpc_MessageTarget_init_promisedAnswer(rpc_Disembargo_init_target(d)), c->qid, p->path,
                 p->depth);
      rpc_Disembargo_Context_set_senderLoopback(rpc_Disembargo_init_context(d), eid);
      send_msg(m);
      msg_done(m);
      R.stats.embargoes_sent++;
      t = e;
    }
    p->call = NULL; /* its reference on c is dropped below */
    resolve_cap(p, t);
    call_unref(c);
  }
}

static void settle(ww_call *c) {
  c->state = CALL_DONE;
  resolve_pipes(c);
  if (c->then) {
    c->refs++;
    ww__defer(settle_task, c);
  }
}

static void call_fail(ww_call *c, uint8_t type, const char *reason) {
  c->etype = type;
  free(c->error);
  c->error = ww__strdup(reason, strlen(reason));
  settle(c);
}

static void ctx_free(ww_ctx *x);

static void call_free(ww_call *c) {
  ww_cap_release(c->target);
  for (uint32_t i = 0; i < c->ncaps; i++) ww_cap_release(c->caps[i]);
  free(c->caps);
  for (uint32_t i = 0; i < c->nrcaps; i++) ww_cap_release(c->rcaps[i]);
  free(c->rcaps);
  if (c->frame) {
    cp_message_free(&c->frame->msg);
    free(c->frame);
  }
  if (c->local) ctx_free(c->local);
  msg_done(c->msg);
  free(c->error);
  free(c->param_exports);
  free(c);
}

static void send_finish(ww_call *c) {
  c->finish_sent = true;
  cp_message *m = msg_new();
  rpc_Finish_builder f = rpc_Message_init_finish(rpc_Message_new_root(m));
  rpc_Finish_set_questionId(f, c->qid);
  /* Capabilities in the results are released one by one (Release), as the C++ implementation does. */
  rpc_Finish_set_releaseResultCaps(f, false);
  send_msg(m);
  msg_done(m);
}

static void forget_question(ww_call *c) {
  /* rpc.capnp, Finish: the id is ours again once the Return came and our Finish went. */
  if (c->is_question && c->returned && c->finish_sent && idtab_get(&R.questions, c->qid) == c) {
    idtab_del(&R.questions, c->qid);
    R.live_questions--;
  }
}

static void call_unref(ww_call *c) {
  if (--c->refs > 0) return;
  if (c->is_question && !c->returned) {
    /* Nobody wants the results any more: Finish now cancels the call; the object stays until
     * the Return (the id is still in use). */
    if (!c->finish_sent && ww__conn.up) send_finish(c);
    return;
  }
  call_free(c);
}

static ww_call *call_create(ww_cap *target, uint64_t iface, uint16_t method) {
  rpc_init();
  ww_call *c = ww__alloc(sizeof *c);
  c->refs = 1;
  c->target = ww_cap_ref(target);
  c->iface = iface;
  c->method = method;
  c->msg = msg_new();
  c->cb = rpc_Message_init_call(rpc_Message_new_root(c->msg));
  rpc_Call_set_interfaceId(c->cb, iface);
  rpc_Call_set_methodId(c->cb, method);
  c->pb = rpc_Call_init_params(c->cb);
  c->params = rpc_Payload_init_content(c->pb);
  return c;
}

ww_call *ww_call_new(ww_cap *target, uint64_t interface_id, uint16_t method_id) {
  return call_create(target, interface_id, method_id);
}

cp_ptr_b ww_call_params(ww_call *c) { return c->params; }

uint32_t ww_call_cap(ww_call *c, ww_cap *cap) {
  if (c->ncaps == c->capcap) {
    c->capcap = c->capcap ? c->capcap * 2 : 4;
    c->caps = ww__realloc(c->caps, sizeof(ww_cap *) * c->capcap);
  }
  c->caps[c->ncaps] = ww_cap_ref(cap);
  return c->ncaps++;
}

static void dispatch_task(void *arg);
static void ctx_init_reply(ww_ctx *x);

static void send_question(ww_call *c, ww_cap *import, ww_cap *pipe) {
  if (R.live_questions >= WW_MAX_QUESTIONS) {
    call_fail(c, WW_OVERLOADED, "too many calls in flight (limit 8192)");
    return;
  }
  if (cp_message_error(c->msg)) {
    call_fail(c, WW_FAILED, cp_message_error(c->msg));
    return;
  }
  c->qid = idtab_add(&R.questions, c);
  R.live_questions++;
  c->is_question = true;
  c->state = CALL_SENT;
  rpc_Call_set_questionId(c->cb, c->qid);
  rpc_MessageTarget_builder t = rpc_Call_init_target(c->cb);
  if (import) {
    rpc_MessageTarget_set_importedCap(t, import->id);
  } else {
    ww_call *q = pipe->call;
    write_path(rpc_MessageTarget_init_promisedAnswer(t), q->qid, pipe->path, pipe->depth);
  }
  cp_list_b table = rpc_Payload_init_capTable(c->pb, c->ncaps);
  for (uint32_t i = 0; i < c->ncaps; i++) {
    uint32_t e = describe(c->caps[i], rpc_CapDescriptor_list_at(table, i));
    if (e) push_u32(&c->param_exports, &c->nparam_exports, e - 1);
  }
  send_msg(c->msg);
  msg_done(c->msg);
  c->msg = NULL;
  for (uint32_t i = 0; i < c->ncaps; i++) ww_cap_release(c->caps[i]);
  c->ncaps = 0;
}

/* A call to our own object: served from the loop, its results handed over in memory. */
static void call_local(ww_call *c, ww_cap *t) {
  ww_ctx *x = ww__alloc(sizeof *x);
  c->refs++;
  x->caller = c;
  x->iface = c->iface;
  x->method = c->method;
  x->params = cp_ptr_b_reader(c->params);
  x->pcaps = c->caps;
  x->npcaps = c->ncaps;
  c->caps = NULL;
  c->ncaps = c->capcap = 0;
  x->target = t;
  ctx_init_reply(x);
  c->state = CALL_SENT;
  ww__defer(dispatch_task, x);
}

/* Routes a call to what t is now (consumes the reference t). */
static void deliver_call(ww_cap *t, ww_call *c) {
  if (!t) {
    call_fail(c, WW_FAILED, "call on a null capability");
    return;
  }
  ww_cap *s = shorten(t);
  if (s != t) {
    ww_cap_ref(s);
    ww_cap_release(t);
    t = s;
  }
  switch (t->kind) {
    case CAP_LOCAL:
      call_local(c, t);
      return;
    case CAP_BROKEN:
      call_fail(c, t->etype, t->reason);
      ww_cap_release(t);
      return;
    case CAP_IMPORT:
      if (t->dead || !ww__conn.up) {
        call_fail(c, WW_DISCONNECTED, ww__conn.reason ? ww__conn.reason : "disconnected");
      } else {
        if (t->is_promise) t->calls_sent = true;
        send_question(c, t, NULL);
      }
      ww_cap_release(t);
      return;
    case CAP_PIPELINE: {
      ww_call *q = t->call;
      if (!t->qhead && q && q->is_question && !q->returned && !q->finish_sent && ww__conn.up) {
        t->calls_sent = true; /* rpc.capnp, PromisedAnswer: pipelined on the unanswered question */
        send_question(c, NULL, t);
        ww_cap_release(t);
        return;
      }
      break;
    }
    default:
      break;
  }
  /* Not settled and not reachable through the peer yet: wait, in order (the pending keeps t's
   * reference and one on the call). */
  c->state = CALL_WAITING;
  c->refs++;
  pend(&t->qhead, &t->qtail, PEND_CALL, c, 0, NULL, 0);
}

void ww_send(ww_call *c) {
  if (c->state != CALL_BUILDING) return;
  ww_cap *t = c->target;
  c->target = NULL;
  c->state = CALL_WAITING;
  deliver_call(t, c);
}

void ww_then(ww_call *c, ww_call_fn fn, void *arg) {
  c->then = fn;
  c->then_arg = arg;
  if (c->state == CALL_DONE && fn) {
    c->refs++;
    ww__defer(settle_task, c);
  }
}

bool ww_done(ww_call *c) { return c->state == CALL_DONE; }

int ww_wait(ww_call *c) {
  if (c->state == CALL_BUILDING) ww_send(c);
  while (c->state != CALL_DONE) {
    if (!ww__loop_once(true)) break;
  }
  if (c->state != CALL_DONE) call_fail(c, WW_DISCONNECTED, "the loop stopped before the call settled");
  return c->error ? -1 : 0;
}

cp_ptr ww_results(ww_call *c) {
  if (c->state != CALL_DONE || c->error) {
    cp_ptr none = {0};
    return none;
  }
  return c->results;
}

ww_cap *ww_result_cap(ww_call *c, uint32_t index) {
  if (c->state != CALL_DONE || index >= c->nrcaps) return NULL;
  return ww_cap_ref(c->rcaps[index]);
}

const char *ww_call_error(ww_call *c) { return c->error; }
int ww_call_error_type(ww_call *c) { return c->etype; }

ww_cap *ww_pipeline_path(ww_call *c, const uint16_t *path, uint16_t depth) {
  if (c->state == CALL_DONE) return navigate_call(c, path, depth);
  ww_cap *p = new_cap(CAP_PIPELINE);
  p->call = c;
  c->refs++;
  p->depth = depth;
  p->path = ww__alloc(sizeof(uint16_t) * (depth ? depth : 1));
  if (depth) memcpy(p->path, path, sizeof(uint16_t) * depth);
  p->pnext = c->pipes;
  c->pipes = p;
  return p;
}

ww_cap *ww_pipeline(ww_call *c, uint16_t field) { return ww_pipeline_path(c, &field, 1); }

void ww_call_free(ww_call *c) {
  if (!c || c->app_freed) return;
  c->app_freed = true;
  c->then = NULL;
  if (c->state == CALL_BUILDING) {
    c->state = CALL_DONE;
  }
  call_unref(c);
}

ww_call *rpc_bootstrap(void) {
  rpc_init();
  ww_call *c = ww__alloc(sizeof *c);
  c->refs = 1;
  c->bootstrap = true;
  if (!ww__conn.up) {
    call_fail(c, WW_DISCONNECTED, ww__conn.reason ? ww__conn.reason : "disconnected");
    return c;
  }
  c->qid = idtab_add(&R.questions, c);
  R.live_questions++;
  c->is_question = true;
  c->state = CALL_SENT;
  cp_message *m = msg_new();
  rpc_Bootstrap_set_questionId(rpc_Message_init_bootstrap(rpc_Message_new_root(m)), c->qid);
  send_msg(m);
  msg_done(m);
  return c;
}

/* ---- resolution -------------------------------------------------------------------------------- */

static void reply_loopback(ww_cap *t, uint32_t embargo);

/* A promise settled to target (a reference it takes): calls waiting on it go there, in order, and
 * the peer hears a Resolve if we exported the promise. */
static void resolve_cap(ww_cap *p, ww_cap *target) {
  if (p->resolved) {
    ww_cap_release(target);
    return;
  }
  p->resolved = target;
  ww_cap_ref(p); /* p may lose its last reference while its queue drains */
  if (p->export_id) {
    exportent *e = idtab_get(&R.exports, p->export_id - 1);
    if (e && e->promise) {
      e->promise = false;
      send_resolve(p->export_id - 1, target);
    }
  }
  while (p->qhead) {
    pending *q = p->qhead;
    p->qhead = q->next;
    if (!p->qhead) p->qtail = NULL;
    if (q->kind == PEND_CALL) {
      ww_call *c = q->item;
      deliver_call(ww_cap_ref(p->resolved), c);
      call_unref(c);
    } else if (q->kind == PEND_LOOPBACK) {
      reply_loopback(p->resolved, q->embargo);
    }
    free(q->path);
    free(q);
    ww_cap_release(p); /* the pending's reference */
  }
  ww_cap_release(p);
}

/* ---- incoming calls ---------------------------------------------------------------------------- */

static frame *retain(void) {
  if (R.retained) return R.retained;
  frame *f = ww__alloc(sizeof(frame) + R.cur_len);
  f->len = R.cur_len;
  memcpy(f->bytes, R.cur, R.cur_len);
  cp_message_read(&f->msg, f->bytes, f->len, &cp_default_limits);
  R.retained = f;
  return f;
}

static void frame_free(frame *f) {
  if (!f) return;
  cp_message_free(&f->msg);
  free(f);
}

static void ctx_init_reply(ww_ctx *x) {
  x->reply = msg_new();
  x->ret = rpc_Message_init_return(rpc_Message_new_root(x->reply));
  rpc_Return_set_releaseParamCaps(x->ret, false);
  x->payload = rpc_Return_init_results(x->ret);
  x->content = rpc_Payload_init_content(x->payload);
}

static void ctx_free(ww_ctx *x) {
  for (uint32_t i = 0; i < x->npcaps; i++) ww_cap_release(x->pcaps[i]);
  free(x->pcaps);
  for (uint32_t i = 0; i < x->nrcaps; i++) ww_cap_release(x->rcaps[i]);
  free(x->rcaps);
  ww_cap_release(x->target);
  frame_free(x->frame);
  msg_done(x->reply);
  free(x);
}

static void answer_free(answer *a) {
  for (uint32_t i = 0; i < a->ncaps; i++) ww_cap_release(a->caps[i]);
  free(a->caps);
  free(a->error);
  msg_done(a->reply);
  free(a->exported);
  free(a);
}

static void drop_answer(answer *a) {
  if (map_get(&R.answers, a->id) == a) map_del(&R.answers, a->id);
  answer_free(a);
}

static void deliver_ctx(ww_cap *t, ww_ctx *x);

/* The answer has its outcome: what was pipelined on it runs now, in arrival order. */
static void answer_settled(answer *a) {
  a->has_outcome = true;
  while (a->qhead) {
    pending *q = a->qhead;
    a->qhead = q->next;
    if (!a->qhead) a->qtail = NULL;
    ww_cap *t = navigate_answer(a, q->path, q->depth);
    switch (q->kind) {
      case PEND_CTX:
        deliver_ctx(t, q->item);
        break;
      case PEND_LOOPBACK:
        reply_loopback(t, q->embargo);
        ww_cap_release(t);
        break;
      case PEND_PROMISE:
        resolve_cap(q->item, t);
        ww_cap_release(q->item);
        break;
    }
    free(q->path);
    free(q);
  }
}

static answer *new_answer(uint32_t id) {
  if (map_get(&R.answers, id)) {
    violation("question id %u is still in use", id);
    return NULL;
  }
  answer *a = ww__alloc(sizeof *a);
  a->id = id;
  map_put(&R.answers, id, a);
  return a;
}

/* Sends a Return of results and keeps them for calls pipelined on the answer until Finish. */
static void answer_results(answer *a, cp_message *reply, rpc_Return_builder ret, rpc_Payload_builder payload,
                           cp_ptr_b content, ww_cap **caps, uint32_t ncaps) {
  rpc_Return_set_answerId(ret, a->id);
  cp_list_b table = rpc_Payload_init_capTable(payload, ncaps);
  for (uint32_t i = 0; i < ncaps; i++) {
    uint32_t e = describe(caps[i], rpc_CapDescriptor_list_at(table, i));
    if (e) push_u32(&a->exported, &a->nexported, e - 1);
  }
  send_msg(reply);
  a->reply = reply;
  a->content = cp_ptr_b_reader(content);
  a->caps = caps;
  a->ncaps = ncaps;
  a->returned = true;
  a->ctx = NULL;
  answer_settled(a);
  if (a->finished) drop_answer(a);
}

static void answer_exception(answer *a, uint8_t type, const char *reason, bool canceled) {
  cp_message *m = msg_new();
  rpc_Return_builder ret = rpc_Message_init_return(rpc_Message_new_root(m));
  rpc_Return_set_answerId(ret, a->id);
  rpc_Return_set_releaseParamCaps(ret, false);
  if (canceled) {
    rpc_Return_set_canceled(ret);
  } else {
    rpc_Exception_builder e = rpc_Return_init_exception(ret);
    rpc_Exception_set_type(e, (rpc_Exception_Type)type);
    rpc_Exception_set_reason(e, reason);
  }
  send_msg(m);
  msg_done(m);
  a->etype = type;
  a->error = ww__strdup(reason, strlen(reason));
  a->returned = true;
  a->ctx = NULL;
  answer_settled(a);
  if (a->finished) drop_answer(a);
}

void ww_return(ww_ctx *x) {
  if (x->returned) return;
  x->returned = true;
  if (x->caller) {
    ww_call *c = x->caller;
    x->caller = NULL;
    ww_cap_release(x->target);
    x->target = NULL;
    c->local = x;
    c->results = cp_ptr_b_reader(x->content);
    c->rcaps = x->rcaps;
    c->nrcaps = x->nrcaps;
    x->rcaps = NULL;
    x->nrcaps = 0;
    settle(c);
    call_unref(c);
    return;
  }
  if (x->ans && ww__conn.up) {
    answer_results(x->ans, x->reply, x->ret, x->payload, x->content, x->rcaps, x->nrcaps);
    x->reply = NULL;
    x->rcaps = NULL;
    x->nrcaps = 0;
  }
  ctx_free(x);
}

void ww_fail(ww_ctx *x, int type, const char *reason) {
  if (x->returned) return;
  x->returned = true;
  if (!reason) reason = "failed";
  if (x->caller) {
    ww_call *c = x->caller;
    x->caller = NULL;
    call_fail(c, (uint8_t)type, reason);
    call_unref(c);
  } else if (x->ans && ww__conn.up) {
    answer_exception(x->ans, (uint8_t)type, reason, false);
  }
  ctx_free(x);
}

uint64_t ww_ctx_interface(ww_ctx *x) { return x->iface; }
uint16_t ww_ctx_method(ww_ctx *x) { return x->method; }
cp_ptr ww_ctx_params(ww_ctx *x) { return x->params; }
cp_ptr_b ww_ctx_results(ww_ctx *x) { return x->content; }
bool ww_ctx_canceled(ww_ctx *x) { return x->canceled; }

ww_cap *ww_ctx_param_cap(ww_ctx *x, uint32_t index) {
  return index < x->npcaps ? ww_cap_ref(x->pcaps[index]) : NULL;
}

uint32_t ww_ctx_result_cap(ww_ctx *x, ww_cap *cap) {
  if (x->nrcaps == x->rcapcap) {
    x->rcapcap = x->rcapcap ? x->rcapcap * 2 : 4;
    x->rcaps = ww__realloc(x->rcaps, sizeof(ww_cap *) * x->rcapcap);
  }
  x->rcaps[x->nrcaps] = ww_cap_ref(cap);
  return x->nrcaps++;
}

static void dispatch_task(void *arg) {
  ww_ctx *x = arg;
  if (!x->caller && (x->canceled || !x->ans || !ww__conn.up)) {
    /* The caller sent Finish before we began (rpc.capnp, Return.canceled), or it is gone. */
    x->returned = true;
    if (x->ans && ww__conn.up) answer_exception(x->ans, WW_FAILED, "canceled", true);
    ctx_free(x);
    return;
  }
  x->target->dispatch(x->target->self, x);
}

typedef struct fwd_map {
  ww_ctx *ctx;
  ww_call *call;
} fwd_map;

static uint32_t map_param(void *arg, uint32_t index) {
  fwd_map *m = arg;
  return index < m->ctx->npcaps ? ww_call_cap(m->call, m->ctx->pcaps[index]) : CP_NULL_CAP;
}

static uint32_t map_result(void *arg, uint32_t index) {
  fwd_map *m = arg;
  return index < m->call->nrcaps ? ww_ctx_result_cap(m->ctx, m->call->rcaps[index]) : CP_NULL_CAP;
}

static void forward_done(ww_call *f, void *arg) {
  ww_ctx *x = arg;
  x->forward = NULL;
  if (f->error) {
    ww_fail(x, f->etype, f->error);
  } else {
    fwd_map m = {x, f};
    cp_pb_copy(x->content, f->results, map_result, &m);
    ww_return(x);
  }
  ww_call_free(f);
}

/* An incoming call whose target is now t (a reference it takes): served here when t is ours, or
 * forwarded when t is the peer's own (it pipelined on an answer of ours that holds its object). */
static void deliver_ctx(ww_cap *t, ww_ctx *x) {
  ww_cap *s = shorten(t);
  if (!s) {
    ww_fail(x, WW_FAILED, "call on a null capability");
  } else if (s->kind == CAP_LOCAL) {
    x->target = ww_cap_ref(s);
    ww__defer(dispatch_task, x);
  } else if (s->kind == CAP_BROKEN) {
    ww_fail(x, s->etype, s->reason);
  } else {
    ww_call *f = call_create(s, x->iface, x->method);
    fwd_map m = {x, f};
    cp_pb_copy(f->params, x->params, map_param, &m);
    f->forward_for = x;
    x->forward = f;
    R.stats.forwarded++;
    ww_then(f, forward_done, x);
    ww_send(f);
  }
  ww_cap_release(t);
}

/* ---- incoming messages ---------------------------------------------------------------------------- */

static void handle_bootstrap(rpc_Bootstrap b) {
  answer *a = new_answer(rpc_Bootstrap_get_questionId(b));
  if (!a) return;
  if (!R.bootstrap) {
    answer_exception(a, WW_FAILED, "this guest exports no bootstrap capability", false);
    return;
  }
  cp_message *m = msg_new();
  rpc_Return_builder ret = rpc_Message_init_return(rpc_Message_new_root(m));
  rpc_Return_set_releaseParamCaps(ret, false);
  rpc_Payload_builder payload = rpc_Return_init_results(ret);
  cp_ptr_b content = rpc_Payload_init_content(payload);
  cp_pb_set_cap(content, 0);
  ww_cap **caps = ww__alloc(sizeof(ww_cap *));
  caps[0] = ww_cap_ref(R.bootstrap);
  answer_results(a, m, ret, payload, content, caps, 1);
}

static void handle_call(void) {
  frame *f = retain();
  rpc_Call call = rpc_Message_get_call(rpc_Message_root(&f->msg));
  uint32_t id = rpc_Call_get_questionId(call);
  unsigned send_to = rpc_Call_SendResultsTo_which(rpc_Call_get_sendResultsTo(call));
  rpc_MessageTarget t = rpc_Call_get_target(call);
  bool pipelined = rpc_MessageTarget_which(t) == rpc_MessageTarget_which_promisedAnswer;
  uint32_t target_id = pipelined ? rpc_PromisedAnswer_get_questionId(rpc_MessageTarget_get_promisedAnswer(t))
                                 : rpc_MessageTarget_get_importedCap(t);
  uint16_t depth = 0;
  uint16_t *path = pipelined ? read_path(rpc_MessageTarget_get_promisedAnswer(t), &depth) : NULL;
  /* Everything but the params is read: a malformed message is rejected before anything happens. */
  if (cp_message_error(&f->msg)) {
    free(path);
    return; /* handle() reports it */
  }
  answer *a = new_answer(id);
  if (!a) {
    free(path);
    return;
  }
  R.retained = NULL; /* the ctx owns the frame */
  ww_ctx *x = ww__alloc(sizeof *x);
  x->ans = a;
  a->ctx = x;
  x->frame = f;
  x->iface = rpc_Call_get_interfaceId(call);
  x->method = rpc_Call_get_methodId(call);
  rpc_Payload params = rpc_Call_get_params(call);
  x->params = rpc_Payload_get_content(params);
  cp_list table = rpc_Payload_get_capTable(params);
  x->npcaps = cp_list_len(table);
  x->pcaps = ww__alloc(sizeof(ww_cap *) * (x->npcaps ? x->npcaps : 1));
  for (uint32_t i = 0; i < x->npcaps; i++) x->pcaps[i] = read_desc(rpc_CapDescriptor_list_get(table, i));
  ctx_init_reply(x);
  if (cp_message_error(&f->msg)) {
    free(path);
    violation("bad message from the host: %s", cp_message_error(&f->msg));
    ww_fail(x, WW_FAILED, "malformed call");
    return;
  }
  if (send_to != rpc_Call_SendResultsTo_which_caller) {
    free(path);
    ww_fail(x, WW_UNIMPLEMENTED, "sendResultsTo other than the caller is not supported by this guest");
    return;
  }
  if (R.answers.len > WW_MAX_QUESTIONS) {
    free(path);
    ww_fail(x, WW_OVERLOADED, "too many calls in flight (limit 8192)");
    return;
  }
  if (!pipelined) {
    exportent *e = idtab_get(&R.exports, target_id);
    if (!e) {
      violation("Call targets export %u, which does not exist", target_id);
      ww_fail(x, WW_FAILED, "no such export");
      return;
    }
    deliver_ctx(ww_cap_ref(e->cap), x);
    return;
  }
  answer *on = map_get(&R.answers, target_id);
  if (!on || on->finished || on == a) {
    free(path);
    violation("Call pipelined on question %u, which is not an outstanding answer", target_id);
    ww_fail(x, WW_FAILED, "no such answer");
    return;
  }
  if (on->has_outcome) {
    deliver_ctx(navigate_answer(on, path, depth), x);
    free(path);
  } else {
    /* E-order: delivered in arrival order once the answer has its results. */
    pend(&on->qhead, &on->qtail, PEND_CTX, x, 0, path, depth);
  }
}

static void handle_return(void) {
  frame *f = retain();
  rpc_Return r = rpc_Message_get_return(rpc_Message_root(&f->msg));
  uint32_t id = rpc_Return_get_answerId(r);
  ww_call *c = idtab_get(&R.questions, id);
  if (!c || c->returned) {
    violation("Return for question %u, which is not outstanding", id);
    return;
  }
  c->returned = true;
  c->refs++; /* held while this runs */
  /* rpc.capnp, Return.releaseParamCaps: the caps we sent in the params count as released. */
  if (rpc_Return_get_releaseParamCaps(r)) {
    for (uint32_t i = 0; i < c->nparam_exports; i++) release_export(c->param_exports[i], 1);
  }
  c->nparam_exports = 0;
  switch (rpc_Return_which(r)) {
    case rpc_Return_which_results: {
      R.retained = NULL;
      c->frame = f;
      rpc_Payload p = rpc_Return_get_results(r);
      c->results = rpc_Payload_get_content(p);
      cp_list table = rpc_Payload_get_capTable(p);
      c->nrcaps = cp_list_len(table);
      c->rcaps = ww__alloc(sizeof(ww_cap *) * (c->nrcaps ? c->nrcaps : 1));
      for (uint32_t i = 0; i < c->nrcaps; i++) c->rcaps[i] = read_desc(rpc_CapDescriptor_list_get(table, i));
      if (cp_message_error(&f->msg)) violation("bad message from the host: %s", cp_message_error(&f->msg));
      break;
    }
    case rpc_Return_which_exception: {
      rpc_Exception e = rpc_Return_get_exception(r);
      cp_text reason = rpc_Exception_get_reason(e);
      unsigned type = rpc_Exception_get_type(e);
      c->etype = (uint8_t)(type > WW_UNIMPLEMENTED ? WW_FAILED : type);
      c->error = ww__strdup(reason.str, reason.len);
      break;
    }
    case rpc_Return_which_canceled:
      c->etype = WW_FAILED;
      c->error = ww__strdup("the call was canceled", 21);
      break;
    default:
      /* resultsSentElsewhere and takeFromOtherQuestion answer sendResultsTo.yourself, which we
       * never send; acceptFromThirdParty is Level 3. */
      violation("Return of a kind this guest never asks for (%u)", rpc_Return_which(r));
      c->etype = WW_FAILED;
      c->error = ww__strdup("unsupported Return", 18);
      break;
  }
  settle(c); /* pipelines resolve; their Disembargos go before the Finish */
  if (!c->finish_sent) send_finish(c);
  forget_question(c);
  call_unref(c);
}

static void handle_finish(rpc_Finish fin) {
  uint32_t id = rpc_Finish_get_questionId(fin);
  answer *a = map_get(&R.answers, id);
  if (!a || a->finished) {
    violation("Finish for question %u, which is not outstanding", id);
    return;
  }
  a->finished = true;
  if (rpc_Finish_get_releaseResultCaps(fin)) {
    for (uint32_t i = 0; i < a->nexported; i++) release_export(a->exported[i], 1);
    a->nexported = 0;
  }
  if (a->returned) {
    drop_answer(a);
  } else if (a->ctx) {
    a->ctx->canceled = true;
  }
}

static void handle_release(rpc_Release r) {
  uint32_t id = rpc_Release_get_id(r);
  if (!idtab_get(&R.exports, id)) {
    violation("Release of export %u, which does not exist", id);
    return;
  }
  release_export(id, rpc_Release_get_referenceCount(r));
}

static ww_cap *read_desc(rpc_CapDescriptor d) {
  switch (rpc_CapDescriptor_which(d)) {
    case rpc_CapDescriptor_which_none:
      return NULL;
    case rpc_CapDescriptor_which_senderHosted:
      return import_cap(rpc_CapDescriptor_get_senderHosted(d), false);
    case rpc_CapDescriptor_which_senderPromise:
      return import_cap(rpc_CapDescriptor_get_senderPromise(d), true);
    case rpc_CapDescriptor_which_receiverHosted: {
      exportent *e = idtab_get(&R.exports, rpc_CapDescriptor_get_receiverHosted(d));
      if (!e) {
        violation("receiverHosted capability %u is not one of our exports", rpc_CapDescriptor_get_receiverHosted(d));
        return NULL;
      }
      return ww_cap_ref(e->cap);
    }
    case rpc_CapDescriptor_which_receiverAnswer: {
      rpc_PromisedAnswer pa = rpc_CapDescriptor_get_receiverAnswer(d);
      answer *a = map_get(&R.answers, rpc_PromisedAnswer_get_questionId(pa));
      if (!a || a->finished) {
        violation("receiverAnswer names question %u, which is not an outstanding answer",
                  rpc_PromisedAnswer_get_questionId(pa));
        return NULL;
      }
      uint16_t depth;
      uint16_t *path = read_path(pa, &depth);
      if (a->has_outcome) {
        ww_cap *t = navigate_answer(a, path, depth);
        free(path);
        return t;
      }
      ww_cap *p = new_cap(CAP_QUEUED);
      pend(&a->qhead, &a->qtail, PEND_PROMISE, ww_cap_ref(p), 0, path, depth);
      return p;
    }
    default:
      return broken(WW_UNIMPLEMENTED, "a third-party capability (Level 3) on a two-party connection");
  }
}

static void handle_resolve(rpc_Resolve r) {
  uint32_t id = rpc_Resolve_get_promiseId(r);
  R.stats.resolves++;
  ww_cap *t;
  if (rpc_Resolve_which(r) == rpc_Resolve_which_cap) {
    t = read_desc(rpc_Resolve_get_cap(r));
  } else {
    rpc_Exception e = rpc_Resolve_get_exception(r);
    unsigned type = rpc_Exception_get_type(e);
    t = broken((uint8_t)(type > WW_UNIMPLEMENTED ? WW_FAILED : type), rpc_Exception_get_reason(e).str);
  }
  ww_cap *imp = map_get(&R.imports, id);
  if (!imp) {
    ww_cap_release(t); /* we released the promise already: what it became goes too */
    return;
  }
  if (!imp->is_promise || imp->resolved) {
    ww_cap_release(t);
    violation("Resolve of import %u, which is not an unresolved promise", id);
    return;
  }
  ww_cap *s = shorten(t);
  if (imp->calls_sent && s && s->kind == CAP_LOCAL) {
    /* Our calls to the promise went to the peer, which will reflect them back to our own object:
     * embargo until it echoes (rpc.capnp, Disembargo.senderLoopback on the import). */
    ww_cap *e = new_cap(CAP_QUEUED);
    e->embargo_target = t;
    uint32_t eid = idtab_add(&R.embargoes, ww_cap_ref(e));
    cp_message *m = msg_new();
    rpc_Disembargo_builder d = rpc_Message_init_disembargo(rpc_Message_new_root(m));
    rpc_MessageTarget_set_importedCap(rpc_Disembargo_init_target(d), id);
    rpc_Disembargo_Context_set_senderLoopback(rpc_Disembargo_init_context(d), eid);
    send_msg(m);
    msg_done(m);
    R.stats.embargoes_sent++;
    t = e;
  }
  resolve_cap(imp, t);
}

/* Echoes a senderLoopback Disembargo, addressed to where t points back at the peer. */
static void reply_loopback(ww_cap *t, uint32_t embargo) {
  ww_cap *s = shorten(t);
  cp_message *m = msg_new();
  rpc_Disembargo_builder d = rpc_Message_init_disembargo(rpc_Message_new_root(m));
  rpc_MessageTarget_builder mt = rpc_Disembargo_init_target(d);
  if (s && s->kind == CAP_IMPORT && !s->dead) {
    rpc_MessageTarget_set_importedCap(mt, s->id);
  } else if (s && s->kind == CAP_PIPELINE && s->call && s->call->is_question && !s->call->returned) {
    write_path(rpc_MessageTarget_init_promisedAnswer(mt), s->call->qid, s->path, s->depth);
  } else if (s && (s->kind == CAP_QUEUED || s->kind == CAP_PIPELINE)) {
    /* Not settled here yet: echo once it is, after the calls queued before it. */
    msg_done(m);
    ww_cap_ref(s);
    pend(&s->qhead, &s->qtail, PEND_LOOPBACK, NULL, embargo, NULL, 0);
    return;
  } else {
    msg_done(m);
    violation("Disembargo (senderLoopback) of a capability that does not point back at the sender");
    return;
  }
  rpc_Disembargo_Context_set_receiverLoopback(rpc_Disembargo_init_context(d), embargo);
  send_msg(m);
  msg_done(m);
  R.stats.loopbacks_echoed++;
}

static void handle_disembargo(rpc_Disembargo d) {
  rpc_Disembargo_Context ctx = rpc_Disembargo_get_context(d);
  rpc_MessageTarget t = rpc_Disembargo_get_target(d);
  switch (rpc_Disembargo_Context_which(ctx)) {
    case rpc_Disembargo_Context_which_receiverLoopback: {
      /* The peer echoed one of ours: the calls it reflected have all arrived; the embargo lifts. */
      uint32_t eid = rpc_Disembargo_Context_get_receiverLoopback(ctx);
      ww_cap *e = idtab_get(&R.embargoes, eid);
      if (!e) {
        violation("Disembargo (receiverLoopback) for embargo %u, which we never sent", eid);
        return;
      }
      idtab_del(&R.embargoes, eid);
      ww_cap *target = e->embargo_target;
      e->embargo_target = NULL;
      resolve_cap(e, target);
      ww_cap_release(e);
      return;
    }
    case rpc_Disembargo_Context_which_senderLoopback:
      break;
    default:
      violation("Disembargo of a Level 3 kind on a two-party connection");
      return;
  }
  uint32_t eid = rpc_Disembargo_Context_get_senderLoopback(ctx);
  if (rpc_MessageTarget_which(t) == rpc_MessageTarget_which_importedCap) {
    exportent *e = idtab_get(&R.exports, rpc_MessageTarget_get_importedCap(t));
    if (!e) {
      violation("Disembargo targets export %u, which does not exist", rpc_MessageTarget_get_importedCap(t));
      return;
    }
    reply_loopback(e->cap, eid);
    return;
  }
  rpc_PromisedAnswer pa = rpc_MessageTarget_get_promisedAnswer(t);
  answer *a = map_get(&R.answers, rpc_PromisedAnswer_get_questionId(pa));
  if (!a || a->finished) {
    violation("Disembargo targets question %u, which is not an outstanding answer",
              rpc_PromisedAnswer_get_questionId(pa));
    return;
  }
  uint16_t depth;
  uint16_t *path = read_path(pa, &depth);
  if (!a->has_outcome) {
    pend(&a->qhead, &a->qtail, PEND_LOOPBACK, NULL, eid, path, depth); /* after the calls before it */
    return;
  }
  ww_cap *target = navigate_answer(a, path, depth);
  free(path);
  reply_loopback(target, eid);
  ww_cap_release(target);
}

static void handle_unimplemented(rpc_Message inner) {
  switch (rpc_Message_which(inner)) {
    case rpc_Message_which_call:
    case rpc_Message_which_bootstrap: {
      uint32_t id = rpc_Message_which(inner) == rpc_Message_which_call
                        ? rpc_Call_get_questionId(rpc_Message_get_call(inner))
                        : rpc_Bootstrap_get_questionId(rpc_Message_get_bootstrap(inner));
      ww_call *c = idtab_get(&R.questions, id);
      if (c && !c->returned) {
        c->returned = c->finish_sent = true;
        c->refs++;
        forget_question(c);
        call_fail(c, WW_UNIMPLEMENTED, "the host does not implement this message");
        call_unref(c);
      }
      break;
    }
    case rpc_Message_which_resolve: {
      /* A peer without promises never took the reference our Resolve carried. */
      rpc_Resolve r = rpc_Message_get_resolve(inner);
      if (rpc_Resolve_which(r) == rpc_Resolve_which_cap) {
        rpc_CapDescriptor d = rpc_Resolve_get_cap(r);
        if (rpc_CapDescriptor_which(d) == rpc_CapDescriptor_which_senderHosted)
          release_export(rpc_CapDescriptor_get_senderHosted(d), 1);
        else if (rpc_CapDescriptor_which(d) == rpc_CapDescriptor_which_senderPromise)
          release_export(rpc_CapDescriptor_get_senderPromise(d), 1);
      }
      break;
    }
    default:
      break;
  }
}

/* Handles one framed message at R.cur. */
static void handle(void) {
  cp_message m;
  if (cp_message_read(&m, R.cur, R.cur_len, &cp_default_limits) != 0) {
    violation("bad message from the host: %s", cp_message_error(&m));
    cp_message_free(&m);
    return;
  }
  R.retained = NULL;
  trace_msg("<-", &m);
  rpc_Message msg = rpc_Message_root(&m);
  unsigned which = rpc_Message_which(msg);
  switch (which) {
    case rpc_Message_which_call:
      handle_call();
      break;
    case rpc_Message_which_return:
      handle_return();
      break;
    case rpc_Message_which_finish:
      handle_finish(rpc_Message_get_finish(msg));
      break;
    case rpc_Message_which_release:
      handle_release(rpc_Message_get_release(msg));
      break;
    case rpc_Message_which_resolve:
      handle_resolve(rpc_Message_get_resolve(msg));
      break;
    case rpc_Message_which_disembargo:
      handle_disembargo(rpc_Message_get_disembargo(msg));
      break;
    case rpc_Message_which_bootstrap:
      handle_bootstrap(rpc_Message_get_bootstrap(msg));
      break;
    case rpc_Message_which_abort: {
      char reason[256];
      snprintf(reason, sizeof reason, "the host aborted the connection: %s",
               rpc_Exception_get_reason(rpc_Message_get_abort(msg)).str);
      rpc_close(WW_DISCONNECTED, reason);
      break;
    }
    case rpc_Message_which_unimplemented:
      handle_unimplemented(rpc_Message_get_unimplemented(msg));
      break;
    default: {
      /* Messages of levels we do not implement are echoed back (rpc.capnp, Unimplemented). */
      cp_message *u = msg_new();
      rpc_Message_set_unimplemented(rpc_Message_new_root(u), msg);
      send_msg(u);
      msg_done(u);
      break;
    }
  }
  /* (a call or response that took its frame checked it as it read it) */
  const char *err = cp_message_error(&m);
  if (!err && R.retained) err = cp_message_error(&R.retained->msg);
  if (err) violation("bad message from the host: %s", err);
  frame_free(R.retained);
  R.retained = NULL;
  cp_message_free(&m);
}

void rpc_feed(void) {
  ww_conn *c = &ww__conn;
  size_t pos = 0;
  while (c->up) {
    size_t len = 0;
    const char *reason = "malformed";
    int r = cp_frame_check(c->in + pos, c->in_len - pos, &cp_default_limits, &len, &reason);
    if (r < 0) {
      violation("bad message from the host: %s", reason);
    } else if (r == 0) {
      c->in_need = len;
      break;
    } else {
      R.cur = c->in + pos;
      R.cur_len = len;
      handle();
      pos += len;
      c->in_need = 0;
    }
    if (R.violated) {
      char reason_buf[sizeof R.violation + 40];
      snprintf(reason_buf, sizeof reason_buf, "protocol violation by the host: %s", R.violation);
      send_abort(R.violation);
      rpc_close(WW_FAILED, reason_buf);
      break;
    }
  }
  if (!c->up) {
    c->in_len = 0; /* closed while handling: the rest is never read */
  } else if (pos > 0) {
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
  }
}

/* ---- the connection ----------------------------------------------------------------------------- */

void rpc_init(void) {
  if (ww__conn.up || ww__conn.reason) return;
  ww__conn.up = true;
}

void ww_set_bootstrap(ww_cap *cap) {
  ww_cap_ref(cap);
  ww_cap_release(R.bootstrap);
  R.bootstrap = cap;
}

bool ww_connected(void) { return ww__conn.up; }
const char *ww_disconnect_reason(void) { return ww__conn.reason; }

void rpc_close(int type, const char *reason) {
  if (!ww__conn.up) return;
  ww__conn.up = false;
  ww__conn.reason = ww__strdup(reason, strlen(reason));
  ww__conn.in_len = 0;
  (void)type;
  /* Imports break: promises resolve to the error; no Release is owed any more. */
  for (uint32_t i = 0; i < R.imports.cap; i++) {
    ww_cap *c = R.imports.vals ? R.imports.vals[i] : NULL;
    if (c) c->dead = true;
  }
  for (uint32_t i = 0; i < R.imports.cap; i++) {
    ww_cap *c = R.imports.vals ? R.imports.vals[i] : NULL;
    if (c && c->is_promise && !c->resolved) {
      ww_cap_ref(c);
      resolve_cap(c, broken(WW_DISCONNECTED, reason));
      ww_cap_release(c);
    }
  }
  free(R.imports.keys);
  free(R.imports.vals);
  memset(&R.imports, 0, sizeof R.imports);
  /* Questions fail. */
  for (uint32_t id = 0; id < R.questions.count; id++) {
    ww_call *c = R.questions.items[id];
    if (!c) continue;
    idtab_del(&R.questions, id);
    R.live_questions--;
    c->returned = c->finish_sent = true;
    c->refs++;
    if (c->state != CALL_DONE) call_fail(c, WW_DISCONNECTED, reason);
    call_unref(c);
  }
  /* Embargoes: nothing more will be reflected; they lift. */
  for (uint32_t id = 0; id < R.embargoes.count; id++) {
    ww_cap *e = R.embargoes.items[id];
    if (!e) continue;
    idtab_del(&R.embargoes, id);
    ww_cap *target = e->embargo_target;
    e->embargo_target = NULL;
    resolve_cap(e, target);
    ww_cap_release(e);
  }
  /* Answers: their calls are canceled; what was pipelined on them fails. */
  u32map answers = R.answers;
  memset(&R.answers, 0, sizeof R.answers);
  for (uint32_t i = 0; i < answers.cap; i++) {
    answer *a = answers.vals[i];
    if (!a) continue;
    if (a->ctx) {
      a->ctx->canceled = true;
      a->ctx->ans = NULL;
    }
    if (!a->error && !a->returned) a->error = ww__strdup(reason, strlen(reason));
    a->etype = WW_DISCONNECTED;
    while (a->qhead) {
      pending *q = a->qhead;
      a->qhead = q->next;
      if (q->kind == PEND_CTX) {
        ww_ctx *x = q->item;
        x->ans = NULL;
        ww_fail(x, WW_DISCONNECTED, reason);
      } else if (q->kind == PEND_PROMISE) {
        resolve_cap(q->item, broken(WW_DISCONNECTED, reason));
        ww_cap_release(q->item);
      }
      free(q->path);
      free(q);
    }
    a->qtail = NULL;
    answer_free(a);
  }
  free(answers.keys);
  free(answers.vals);
  /* Exports: the peer holds nothing any more. */
  for (uint32_t id = 0; id < R.exports.count; id++) {
    if (R.exports.items[id]) {
      exportent *e = R.exports.items[id];
      release_export(id, e->refs);
    }
  }
}
