/* ww.h: the Wetware guest API.
 *
 * A guest talks Cap'n Proto RPC to its host over fd 4. Everything it may do comes from the
 * capabilities it holds; the first is its Membrane (the connection's bootstrap), which it grafts
 * onto to get its session: identity, host, executor and ipfs.
 *
 *   ww_session s;
 *   if (ww_graft(&s) != 0) { fprintf(stderr, "%s\n", ww_error()); return 1; }
 *   char *reply = ww_echo(s.executor, "hello");          // a blocking helper
 *
 * Calls in general: build, send, then wait (or get a callback). Params and results are read and
 * written with the generated accessors (capnpc-c) over cp.h:
 *
 *   ww_call *c = ww_call_new(s.executor, system_Executor_TYPE_ID, system_Executor_echo);
 *   system_Executor_echo_Params_set_message(system_Executor_echo_Params_init(ww_call_params(c)), "hi");
 *   ww_send(c);
 *   if (ww_wait(c) == 0)
 *     puts(system_Executor_echo_Results_get_response(system_Executor_echo_Results_read(ww_results(c))).str);
 *   ww_call_free(c);
 *
 * Capabilities in results can be called before the results arrive (promise pipelining):
 * ww_pipeline(c, field) is the capability at that pointer field of the results.
 *
 * The event loop (ww_run, or ww_wait inside) polls fd 4, fd 0 and timers with poll_oneoff; it
 * writes out everything queued before it blocks and after it runs your callbacks, writes only as
 * much as fd 4 takes (partial writes), and reads whatever arrives, so the guest never deadlocks
 * with a host that is sending to it while it sends. Callbacks (call completions, incoming calls,
 * timers) run from the loop, never from inside ww_send.
 *
 * Single-threaded. Every ww_cap and ww_call you get is yours: release it (ww_cap_release,
 * ww_call_free). Errors are Cap'n Proto exceptions with a type and a reason.
 */
#ifndef WW_H
#define WW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors (rpc.capnp, Exception.Type) ---------------------------------------------------- */

enum { WW_FAILED = 0, WW_OVERLOADED = 1, WW_DISCONNECTED = 2, WW_UNIMPLEMENTED = 3 };

/* The reason of the last error a blocking helper (ww_graft, ww_echo, ...) returned. */
const char *ww_error(void);
/* Its type (WW_FAILED...). */
int ww_error_type(void);

/* ---- capabilities ---------------------------------------------------------------------------- */

typedef struct ww_cap ww_cap;

ww_cap *ww_cap_ref(ww_cap *cap);    /* another reference to the same capability (NULL stays NULL) */
void ww_cap_release(ww_cap *cap);   /* drop a reference (NULL is fine); the peer hears Release */

/* ---- calls ------------------------------------------------------------------------------------ */

typedef struct ww_call ww_call;
typedef void (*ww_call_fn)(ww_call *call, void *arg);

/* A call of method_id of interface_id on target, to fill in and send. */
ww_call *ww_call_new(ww_cap *target, uint64_t interface_id, uint16_t method_id);
/* Where the params struct goes: pass it to the generated <Params>_init. */
cp_ptr_b ww_call_params(ww_call *call);
/* Attaches a capability to the params (adds a reference); write the index into a capability
 * field with the generated setter. */
uint32_t ww_call_cap(ww_call *call, ww_cap *cap);
/* Sends it; the results come later (ww_wait, ww_then). */
void ww_send(ww_call *call);
/* Runs fn(call, arg) from the loop once the call has settled (at once if it has). */
void ww_then(ww_call *call, ww_call_fn fn, void *arg);
/* Runs the loop until the call settles: 0 with results, -1 with an exception. */
int ww_wait(ww_call *call);
bool ww_done(ww_call *call);
/* The results struct's pointer (pass to the generated <Results>_read); valid until ww_call_free. */
cp_ptr ww_results(ww_call *call);
/* A new reference to capability index of the results (a capability field's value), or NULL. */
ww_cap *ww_result_cap(ww_call *call, uint32_t index);
/* The exception of a failed call: its reason (NULL if none) and type. */
const char *ww_call_error(ww_call *call);
int ww_call_error_type(ww_call *call);
/* The capability at pointer field `field` of the results (ww_pipeline_path: a path of pointer
 * fields through nested structs), usable at once: calls on it are pipelined. */
ww_cap *ww_pipeline(ww_call *call, uint16_t field);
ww_cap *ww_pipeline_path(ww_call *call, const uint16_t *path, uint16_t depth);
/* Done with the call: its results are released; an unsettled call is canceled (Finish). */
void ww_call_free(ww_call *call);

/* ---- serving: local objects the host (or the guest itself) can call --------------------------- */

typedef struct ww_ctx ww_ctx;
/* Serves one call: read ww_ctx_params, write ww_ctx_results, then ww_return or ww_fail, now or
 * later (the ctx stays valid until then). */
typedef void (*ww_dispatch_fn)(void *self, ww_ctx *ctx);

/* A capability served by dispatch; drop(self) runs when the last reference is gone (may be NULL). */
ww_cap *ww_serve(ww_dispatch_fn dispatch, void *self, void (*drop)(void *self));
uint64_t ww_ctx_interface(ww_ctx *ctx);
uint16_t ww_ctx_method(ww_ctx *ctx);
cp_ptr ww_ctx_params(ww_ctx *ctx);
/* A new reference to capability index of the params, or NULL. */
ww_cap *ww_ctx_param_cap(ww_ctx *ctx, uint32_t index);
cp_ptr_b ww_ctx_results(ww_ctx *ctx);
/* Attaches a capability to the results (adds a reference); returns its index. */
uint32_t ww_ctx_result_cap(ww_ctx *ctx, ww_cap *cap);
/* The caller sent Finish: it no longer wants the results (return anyway, soon). */
bool ww_ctx_canceled(ww_ctx *ctx);
void ww_return(ww_ctx *ctx);
void ww_fail(ww_ctx *ctx, int type, const char *reason);
/* What the guest exports on its connection (its bootstrap capability: Process.bootstrap gives it
 * to the parent). Set it before the loop first runs. Takes a reference. */
void ww_set_bootstrap(ww_cap *cap);

/* ---- the loop ------------------------------------------------------------------------------------ */

/* Runs until ww_stop, or until nothing can happen any more (the connection is gone and no timer
 * or stdin reader is left). Returns ww_stop's status, or 1 when the connection failed. */
int ww_run(void);
void ww_stop(int status);
/* Runs fn(arg) from the loop after delay_ms; returns an id for ww_timer_cancel. */
uint64_t ww_timer(uint64_t delay_ms, void (*fn)(void *arg), void *arg);
void ww_timer_cancel(uint64_t id);
/* Runs fn(arg) from the loop, soon. */
void ww_defer(void (*fn)(void *arg), void *arg);
/* Calls fn with what arrives on stdin (fd 0) as it comes; len 0 is end of file (then it stops). */
void ww_on_stdin(void (*fn)(void *arg, const uint8_t *data, size_t len), void *arg);
/* Is the RPC connection still up? Why not (NULL while up)? */
bool ww_connected(void);
const char *ww_disconnect_reason(void);

/* The RPC tables' sizes and some protocol events so far, for tests and diagnostics. */
typedef struct ww_counts {
  uint32_t questions;   /* our calls awaiting Return or Finish */
  uint32_t answers;     /* the host's calls to us, until their Finish */
  uint32_t imports;     /* the host's capabilities we hold */
  uint32_t exports;     /* ours the host holds */
  uint32_t embargoes;   /* our Disembargos not yet echoed */
  uint64_t embargoes_sent;    /* Disembargo senderLoopback we sent */
  uint64_t loopbacks_echoed;  /* the host's senderLoopback we echoed */
  uint64_t resolves;          /* Resolve messages received */
  uint64_t forwarded;         /* the host's calls we passed back to the host */
  uint64_t loop_turns;        /* times the loop has polled (it blocks when idle: this stays small) */
  uint64_t partial_writes;    /* fd 4 took less than it was given (the rest waited for FD_WRITE) */
} ww_counts;
void ww_get_counts(ww_counts *out);

/* ---- the session (stem.capnp Membrane, system.capnp Host/Executor) -------------------------------- */

/* The host's bootstrap capability on fd 4 (the Membrane), usable at once: calls on it are
 * pipelined on the Bootstrap question. Each call asks again; release it when done. */
ww_cap *ww_bootstrap(void);

typedef struct ww_session {
  ww_cap *membrane; /* the bootstrap capability */
  ww_cap *identity;
  ww_cap *host;
  ww_cap *executor;
  ww_cap *ipfs;
} ww_session;

/* Grafts onto the Membrane (graft with no signer) and waits for the session. 0 or -1 (ww_error). */
int ww_graft(ww_session *s);
void ww_session_release(ww_session *s);

typedef struct ww_epoch {
  uint64_t seq;
  uint64_t adopted_block;
  uint8_t head[64];
  size_t head_len; /* the head's length (at most 64 bytes are copied) */
} ww_epoch;
/* Membrane.epoch: the host's epoch now. */
int ww_membrane_epoch(ww_cap *membrane, ww_epoch *out);

/* Executor.echo: a malloc'd copy of the response (free it), or NULL (ww_error). */
char *ww_echo(ww_cap *executor, const char *message);

/* A child process: Executor.runBytes (bootstrap NULL and runbytes true) or Executor.spawn (its
 * bootstrap exactly `bootstrap`, NULL for none). Its streams are ready to use at once (pipelined). */
typedef struct ww_process {
  ww_cap *process;
  ww_cap *stdin_stream;
  ww_cap *stdout_stream;
  ww_cap *stderr_stream;
} ww_process;
int ww_run_bytes(ww_cap *executor, const void *wasm, size_t len, const char *const *args,
                 const char *const *env, ww_process *out);
int ww_spawn(ww_cap *executor, const void *wasm, size_t len, const char *const *args,
             const char *const *env, ww_cap *bootstrap, ww_process *out);
/* Process.wait: the exit code. */
int ww_process_wait(ww_process *p, int32_t *exit_code);
int ww_process_kill(ww_process *p);
/* Process.bootstrap: what the child exports (NULL if nothing; check ww_error on failure). */
ww_cap *ww_process_bootstrap(ww_process *p);
void ww_process_release(ww_process *p);

/* ByteStream: read up to max bytes (0 at end of stream, -1 on error); write all of len; close. */
ssize_t ww_stream_read(ww_cap *stream, void *buf, size_t max);
int ww_stream_write(ww_cap *stream, const void *data, size_t len);
int ww_stream_close(ww_cap *stream);

#ifdef __cplusplus
}
#endif
#endif
