/* ww_internal.h: what the RPC engine (rpc.c), the loop (loop.c) and the helpers (ww.c) share. */
#ifndef WW_INTERNAL_H
#define WW_INTERNAL_H

#include "rpc.capnp.h"
#include "ww.h"

/* Questions in flight per direction (shared/spec/README.md, "Limits"). */
#define WW_MAX_QUESTIONS 8192

void *ww__alloc(size_t size);              /* zeroed; exits the guest (70) when memory is gone */
void *ww__realloc(void *p, size_t size);
char *ww__strdup(const char *s, size_t len);

/* ---- id tables and maps ------------------------------------------------------------------------ */

typedef struct idtab {      /* small ids, reused (questions, exports, embargoes) */
  void **items;
  uint32_t cap, count;
  uint32_t *free;
  uint32_t nfree, freecap;
} idtab;
uint32_t idtab_add(idtab *t, void *v);
void *idtab_get(const idtab *t, uint32_t id);
void idtab_del(idtab *t, uint32_t id);

typedef struct u32map {     /* ids the peer chooses (answers, imports): open addressing */
  uint32_t *keys;
  void **vals;
  uint32_t cap, len;
} u32map;
void *map_get(const u32map *m, uint32_t k);
void map_put(u32map *m, uint32_t k, void *v);
void *map_del(u32map *m, uint32_t k);

/* ---- capabilities --------------------------------------------------------------------------------- */

enum { CAP_IMPORT, CAP_PIPELINE, CAP_LOCAL, CAP_BROKEN, CAP_QUEUED };

typedef struct pending pending;

struct ww_cap {
  uint32_t refs;
  uint8_t kind;
  bool is_promise;       /* IMPORT: the peer sent it as senderPromise (a Resolve may follow) */
  bool calls_sent;       /* calls went to the peer while it was unresolved (an embargo may be needed) */
  bool dead;             /* IMPORT: the connection is gone, or the id was released */
  uint32_t id;           /* IMPORT: the import id */
  uint32_t remote_refs;  /* IMPORT: times the peer sent it (the Release count) */
  uint32_t export_id;    /* 1 + our export id while the peer holds it, else 0 */
  ww_cap *resolved;      /* what a promise became (a reference); calls follow it */
  pending *qhead, *qtail;/* deliveries waiting for the resolution, in order */
  ww_cap *embargo_target;/* QUEUED for an embargo: what it resolves to once the peer echoes */
  ww_call *call;         /* PIPELINE: the call whose results hold it (a reference) */
  uint16_t *path;        /* PIPELINE: pointer fields from the results struct */
  uint16_t depth;
  ww_cap *pnext;         /* PIPELINE: next on the call's list */
  ww_dispatch_fn dispatch; /* LOCAL */
  void *self;
  void (*drop)(void *self);
  char *reason;          /* BROKEN */
  uint8_t etype;
};

/* ---- calls ---------------------------------------------------------------------------------------- */

enum { CALL_BUILDING, CALL_WAITING, CALL_SENT, CALL_DONE };

struct ww_call {
  uint32_t refs;          /* the app's handle, live pipeline caps, queued deliveries and tasks */
  uint8_t state;
  bool is_question;       /* sent to the peer: qid is ours until Return and Finish */
  bool returned, finish_sent, app_freed;
  uint32_t qid;
  ww_cap *target;         /* until sent */
  uint64_t iface;
  uint16_t method;
  cp_message *msg;        /* Message{call} (or {bootstrap}); params are its content */
  rpc_Call_builder cb;
  rpc_Payload_builder pb;
  cp_ptr_b params;
  bool bootstrap;         /* a Bootstrap question, not a Call */
  ww_cap **caps;          /* params' capabilities (references), by index */
  uint32_t ncaps, capcap;
  uint32_t *param_exports;/* exports the params handed out (Return.releaseParamCaps) */
  uint32_t nparam_exports;
  /* outcome */
  uint8_t etype;
  char *error;
  struct frame *frame;    /* a remote Return, kept while the results are read */
  ww_ctx *local;          /* a local call's ctx, which owns the results */
  cp_ptr results;
  ww_cap **rcaps;
  uint32_t nrcaps;
  ww_cap *pipes;          /* unresolved pipeline caps on these results */
  ww_call_fn then;
  void *then_arg;
  ww_ctx *forward_for;    /* an engine-made call forwarding this incoming call */
};

/* ---- incoming calls --------------------------------------------------------------------------------- */

typedef struct answer answer;

struct ww_ctx {
  answer *ans;            /* from the peer (NULL for a local call) */
  ww_call *caller;        /* a local call: the call it serves (a reference) */
  uint64_t iface;
  uint16_t method;
  struct frame *frame;    /* the peer's Call */
  cp_ptr params;
  ww_cap **pcaps;
  uint32_t npcaps;
  cp_message *reply;      /* Message{return{results}} */
  rpc_Return_builder ret;
  rpc_Payload_builder payload;
  cp_ptr_b content;
  ww_cap **rcaps;
  uint32_t nrcaps, rcapcap;
  bool returned, canceled;
  ww_cap *target;         /* the local capability being called (a reference) */
  ww_call *forward;       /* forwarding to the peer: the call (a reference) */
};

/* ---- the loop's side ---------------------------------------------------------------------------------- */

typedef struct ww_conn {
  bool up;
  char *reason;           /* why it went down */
  uint8_t *in;            /* bytes read from fd 4, not yet handled */
  size_t in_len, in_cap;
  size_t in_need;         /* a frame's full size, once its segment table is in */
  uint8_t *out;           /* framed messages not yet written to fd 4 */
  size_t out_head, out_len, out_cap;
} ww_conn;

extern ww_conn ww__conn;

void rpc_init(void);
/* Handles every whole message in ww__conn.in. */
void rpc_feed(void);
/* The Bootstrap question: its results are the peer's bootstrap capability (ww_pipeline_path, depth 0). */
ww_call *rpc_bootstrap(void);
/* The connection is over: questions fail, imports break, exports go. */
void rpc_close(int type, const char *reason);
void ww__defer(void (*fn)(void *), void *arg);
/* How many times the loop has polled, and how many fd 4 writes went partial. */
uint64_t ww__loop_turns(void);
uint64_t ww__partial_writes(void);
/* Runs the loop once; blocking when nothing is ready. false when nothing can happen any more. */
bool ww__loop_once(bool block);

#endif
