/* ww.c: blocking helpers over the system interfaces (shared/spec/interfaces.md): graft, echo,
 * epoch, processes and their byte streams. Each one is an ordinary call built with the
 * generated accessors and waited for with ww_wait, as a guest author would write it. */
#include <stdio.h>
#include <stdlib.h>

#include "stem.capnp.h"
#include "system.capnp.h"
#include "ww_internal.h"

static char last_error[512];
static int last_type;

const char *ww_error(void) { return last_error; }
int ww_error_type(void) { return last_type; }

/* Records why c failed and frees it; returns -1. */
static int failed(ww_call *c) {
  const char *e = ww_call_error(c);
  snprintf(last_error, sizeof last_error, "%s", e ? e : "failed");
  last_type = ww_call_error_type(c);
  ww_call_free(c);
  return -1;
}

static int fail_with(const char *reason) {
  snprintf(last_error, sizeof last_error, "%s", reason);
  last_type = WW_FAILED;
  return -1;
}

ww_cap *ww_bootstrap(void) {
  ww_call *boot = rpc_bootstrap();
  ww_cap *cap = ww_pipeline_path(boot, NULL, 0); /* Bootstrap's results are the capability itself */
  ww_call_free(boot);
  return cap;
}

int ww_graft(ww_session *s) {
  memset(s, 0, sizeof *s);
  s->membrane = ww_bootstrap();
  /* graft(signer = null): pipelined on the bootstrap, one round trip for both. */
  ww_call *c = ww_call_new(s->membrane, stem_Membrane_TYPE_ID, stem_Membrane_graft);
  stem_Membrane_graft_Params_init(ww_call_params(c));
  ww_send(c);
  if (ww_wait(c) != 0) {
    ww_session_release(s);
    return failed(c);
  }
  stem_Membrane_graft_Results r = stem_Membrane_graft_Results_read(ww_results(c));
  s->identity = ww_result_cap(c, stem_Membrane_graft_Results_get_identity(r));
  s->host = ww_result_cap(c, stem_Membrane_graft_Results_get_host(r));
  s->executor = ww_result_cap(c, stem_Membrane_graft_Results_get_executor(r));
  s->ipfs = ww_result_cap(c, stem_Membrane_graft_Results_get_ipfs(r));
  ww_call_free(c);
  return 0;
}

void ww_session_release(ww_session *s) {
  ww_cap_release(s->membrane);
  ww_cap_release(s->identity);
  ww_cap_release(s->host);
  ww_cap_release(s->executor);
  ww_cap_release(s->ipfs);
  memset(s, 0, sizeof *s);
}

int ww_membrane_epoch(ww_cap *membrane, ww_epoch *out) {
  memset(out, 0, sizeof *out);
  ww_call *c = ww_call_new(membrane, stem_Membrane_TYPE_ID, stem_Membrane_epoch);
  stem_Membrane_epoch_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) return failed(c);
  stem_Epoch e = stem_Membrane_epoch_Results_get_epoch(stem_Membrane_epoch_Results_read(ww_results(c)));
  out->seq = stem_Epoch_get_seq(e);
  out->adopted_block = stem_Epoch_get_adoptedBlock(e);
  cp_data head = stem_Epoch_get_head(e);
  out->head_len = head.len;
  memcpy(out->head, head.ptr, head.len < sizeof out->head ? head.len : sizeof out->head);
  ww_call_free(c);
  return 0;
}

char *ww_echo(ww_cap *executor, const char *message) {
  ww_call *c = ww_call_new(executor, system_Executor_TYPE_ID, system_Executor_echo);
  system_Executor_echo_Params_set_message(system_Executor_echo_Params_init(ww_call_params(c)), message);
  if (ww_wait(c) != 0) {
    failed(c);
    return NULL;
  }
  cp_text t = system_Executor_echo_Results_get_response(system_Executor_echo_Results_read(ww_results(c)));
  char *copy = ww__strdup(t.str, t.len);
  ww_call_free(c);
  return copy;
}

static size_t count(const char *const *list) {
  size_t n = 0;
  while (list && list[n]) n++;
  return n;
}

static void set_texts(cp_list_b l, const char *const *list) {
  for (uint32_t i = 0; i < l.count; i++) cp_lb_text(l, i, list[i], strlen(list[i]));
}

/* A call of method on p->process whose results' first pointer is a stream (pipelined). */
static ww_cap *stream_of(ww_cap *process, uint16_t method) {
  ww_call *c = ww_call_new(process, system_Process_TYPE_ID, method);
  cp_pb_init_struct(ww_call_params(c), 0, 0);
  ww_send(c);
  ww_cap *stream = ww_pipeline(c, 0);
  ww_call_free(c); /* the pipeline keeps what it needs */
  return stream;
}

static int start(ww_cap *executor, const void *wasm, size_t len, const char *const *args,
                 const char *const *env, bool spawn, ww_cap *bootstrap, ww_process *out) {
  memset(out, 0, sizeof *out);
  ww_call *c;
  if (spawn) {
    c = ww_call_new(executor, system_Executor_TYPE_ID, system_Executor_spawn);
    system_Executor_spawn_Params_builder p = system_Executor_spawn_Params_init(ww_call_params(c));
    system_Executor_spawn_Params_set_wasm(p, wasm, len);
    set_texts(system_Executor_spawn_Params_init_args(p, (uint32_t)count(args)), args);
    set_texts(system_Executor_spawn_Params_init_env(p, (uint32_t)count(env)), env);
    if (bootstrap) system_Executor_spawn_Params_set_bootstrap(p, ww_call_cap(c, bootstrap));
  } else {
    c = ww_call_new(executor, system_Executor_TYPE_ID, system_Executor_runBytes);
    system_Executor_runBytes_Params_builder p = system_Executor_runBytes_Params_init(ww_call_params(c));
    system_Executor_runBytes_Params_set_wasm(p, wasm, len);
    set_texts(system_Executor_runBytes_Params_init_args(p, (uint32_t)count(args)), args);
    set_texts(system_Executor_runBytes_Params_init_env(p, (uint32_t)count(env)), env);
  }
  ww_send(c);
  /* The streams are asked for before the process exists (pipelined on its promise). */
  out->process = ww_pipeline(c, 0);
  out->stdin_stream = stream_of(out->process, system_Process_stdin);
  out->stdout_stream = stream_of(out->process, system_Process_stdout);
  out->stderr_stream = stream_of(out->process, system_Process_stderr);
  if (ww_wait(c) != 0) {
    ww_process_release(out);
    return failed(c);
  }
  ww_call_free(c);
  return 0;
}

int ww_run_bytes(ww_cap *executor, const void *wasm, size_t len, const char *const *args,
                 const char *const *env, ww_process *out) {
  return start(executor, wasm, len, args, env, false, NULL, out);
}

int ww_spawn(ww_cap *executor, const void *wasm, size_t len, const char *const *args,
             const char *const *env, ww_cap *bootstrap, ww_process *out) {
  return start(executor, wasm, len, args, env, true, bootstrap, out);
}

int ww_process_wait(ww_process *p, int32_t *exit_code) {
  ww_call *c = ww_call_new(p->process, system_Process_TYPE_ID, system_Process_wait);
  system_Process_wait_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) return failed(c);
  *exit_code = system_Process_wait_Results_get_exitCode(system_Process_wait_Results_read(ww_results(c)));
  ww_call_free(c);
  return 0;
}

int ww_process_kill(ww_process *p) {
  ww_call *c = ww_call_new(p->process, system_Process_TYPE_ID, system_Process_kill);
  system_Process_kill_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) return failed(c);
  ww_call_free(c);
  return 0;
}

ww_cap *ww_process_bootstrap(ww_process *p) {
  ww_call *c = ww_call_new(p->process, system_Process_TYPE_ID, system_Process_bootstrap);
  system_Process_bootstrap_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) {
    failed(c);
    return NULL;
  }
  last_error[0] = 0;
  uint32_t index = system_Process_bootstrap_Results_get_cap(system_Process_bootstrap_Results_read(ww_results(c)));
  ww_cap *cap = ww_result_cap(c, index);
  ww_call_free(c);
  return cap;
}

void ww_process_release(ww_process *p) {
  ww_cap_release(p->process);
  ww_cap_release(p->stdin_stream);
  ww_cap_release(p->stdout_stream);
  ww_cap_release(p->stderr_stream);
  memset(p, 0, sizeof *p);
}

ssize_t ww_stream_read(ww_cap *stream, void *buf, size_t max) {
  ww_call *c = ww_call_new(stream, system_ByteStream_TYPE_ID, system_ByteStream_read);
  system_ByteStream_read_Params_builder p = system_ByteStream_read_Params_init(ww_call_params(c));
  system_ByteStream_read_Params_set_maxBytes(p, max > 65536 ? 65536 : (uint32_t)max);
  if (ww_wait(c) != 0) return failed(c);
  cp_data d = system_ByteStream_read_Results_get_data(system_ByteStream_read_Results_read(ww_results(c)));
  size_t n = d.len < max ? d.len : max;
  memcpy(buf, d.ptr, n);
  ww_call_free(c);
  return (ssize_t)n;
}

int ww_stream_write(ww_cap *stream, const void *data, size_t len) {
  const uint8_t *p = data;
  do {
    /* Chunks well under the message limit; each waits for the stream to take it (back-pressure). */
    size_t n = len > (1u << 20) ? (1u << 20) : len;
    ww_call *c = ww_call_new(stream, system_ByteStream_TYPE_ID, system_ByteStream_write);
    system_ByteStream_write_Params_set_data(system_ByteStream_write_Params_init(ww_call_params(c)), p, n);
    if (ww_wait(c) != 0) return failed(c);
    ww_call_free(c);
    p += n;
    len -= n;
  } while (len > 0);
  return 0;
}

int ww_stream_close(ww_cap *stream) {
  if (!stream) return fail_with("no stream");
  ww_call *c = ww_call_new(stream, system_ByteStream_TYPE_ID, system_ByteStream_close);
  system_ByteStream_close_Params_init(ww_call_params(c));
  if (ww_wait(c) != 0) return failed(c);
  ww_call_free(c);
  return 0;
}
