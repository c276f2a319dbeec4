// The built-ins (they win over PATH names): cd, pwd, ls, cat, help, exit; paths; and running a module
// as a child with its output streamed as it comes.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"
#include "system.capnp.h"

bool k_exit_requested;
int k_exit_code;

// ---- paths ---------------------------------------------------------------------------------------------------

bool k_resolve(const char *path, char *out, size_t cap) {
  char joined[2 * K_MAX_PATH];
  int n = path[0] == '/' ? snprintf(joined, sizeof joined, "%s", path) : snprintf(joined, sizeof joined, "%s/%s", k_cwd, path);
  if (n < 0 || (size_t)n >= sizeof joined) return false;
  // Normalize segment by segment: "" and "." vanish, ".." pops (never above the root).
  size_t len = 0;
  char *save = NULL;
  out[0] = '/';
  out[1] = 0;
  len = 1;
  for (char *seg = strtok_r(joined, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
    if (!strcmp(seg, ".")) continue;
    if (!strcmp(seg, "..")) {
      while (len > 1 && out[len - 1] != '/') len--;
      if (len > 1) len--;
      out[len] = 0;
      continue;
    }
    size_t s = strlen(seg);
    if (len + (len > 1) + s + 1 > cap) return false;
    if (len > 1) out[len++] = '/';
    memcpy(out + len, seg, s);
    len += s;
    out[len] = 0;
  }
  return true;
}

uint8_t *k_read_file(const char *path, size_t *len) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    k_fail("%s: is a directory", path);
    return NULL;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    k_fail("%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 65536, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    if (n == cap) {
      if (cap >= K_MAX_FILE) {
        free(buf);
        fclose(f);
        k_fail("%s: larger than %u MiB", path, K_MAX_FILE >> 20);
        return NULL;
      }
      uint8_t *bigger = realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  bool error = ferror(f);
  fclose(f);
  if (!buf) {
    k_fail("%s: out of memory", path);
    return NULL;
  }
  if (error) {
    free(buf);
    k_fail("%s: read failed", path);
    return NULL;
  }
  *len = n;
  return buf;
}

// ---- the built-ins --------------------------------------------------------------------------------------------

static const char *const help_lines[] = {
    "(host id)                  this node's Peer ID",
    "(host addrs)               the node's listen multiaddrs",
    "(host peers)               connected peers: [{:id \"...\" :addrs [...]}]",
    "(host connect \"/ip4/.../tcp/.../p2p/<id>\")   dial a peer; nil once connected",
    "(executor echo \"text\")     the text, after a round trip through RPC",
    "(ipfs cat \"/ipfs/<cid>\")   the content (a string if UTF-8, else <N bytes>)",
    "(ipfs ls \"/ipfs/<cid>\")    the entries: [{:name :size :type :cid}]",
    "(ipfs add \"text\")          add text to IPFS: \"/ipfs/<cid>\"",
    "(cd \"path\")                change the working directory",
    "(pwd)                      the working directory",
    "(ls [\"path\"])              list a directory of the image",
    "(cat \"path\")               print a file of the image",
    "(help)                     this list",
    "(exit [code])              end the shell (Ctrl-D too)",
    "(cmd args...)              run <dir>/cmd.wasm or <dir>/cmd/main.wasm from PATH (default /bin)",
};

static const char *path_arg(const char *form, value *v) {
  if (v->type == V_STR || v->type == V_SYM) return v->u.str.s;
  k_fail("%s wants a path string", form);
  return NULL;
}

static value *ls(const char *arg) {
  char path[K_MAX_PATH];
  if (!k_resolve(arg, path, sizeof path)) {
    k_fail("ls: path too long");
    return NULL;
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    k_fail("ls: %s: %s", path, strerror(errno));
    return NULL;
  }
  if (!S_ISDIR(st.st_mode)) {
    printf("%s\n", arg);
    return &k_void;
  }
  struct dirent **entries;
  int n = scandir(path, &entries, NULL, alphasort);
  if (n < 0) {
    k_fail("ls: %s: %s", path, strerror(errno));
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    const char *name = entries[i]->d_name;
    if (strcmp(name, ".") && strcmp(name, "..")) {
      bool dir = entries[i]->d_type == DT_DIR;
      if (entries[i]->d_type == DT_UNKNOWN) {
        char child[K_MAX_PATH];
        struct stat cs;
        dir = snprintf(child, sizeof child, "%s/%s", path, name) < (int)sizeof child && stat(child, &cs) == 0 && S_ISDIR(cs.st_mode);
      }
      printf("%s%s\n", name, dir ? "/" : "");
    }
    free(entries[i]);
  }
  free(entries);
  return &k_void;
}

static value *cat(const char *arg) {
  char path[K_MAX_PATH];
  if (!k_resolve(arg, path, sizeof path)) {
    k_fail("cat: path too long");
    return NULL;
  }
  size_t len;
  uint8_t *data = k_read_file(path, &len);
  if (!data) return NULL;
  fwrite(data, 1, len, stdout);
  if (len > 0 && data[len - 1] != '\n') fputc('\n', stdout);
  free(data);
  return &k_void;
}

value *k_builtin(const char *name, value **args, size_t n, bool *found) {
  *found = true;
  if (!strcmp(name, "pwd")) {
    if (n != 0) {
      k_fail("(pwd) takes no arguments");
      return NULL;
    }
    return v_cstr(k_cwd);
  }
  if (!strcmp(name, "cd")) {
    const char *arg = n == 0 ? "/" : n == 1 ? path_arg("(cd \"path\")", args[0]) : NULL;
    if (n > 1) k_fail("(cd \"path\") takes one argument");
    if (!arg) return NULL;
    char path[K_MAX_PATH];
    struct stat st;
    if (!k_resolve(arg, path, sizeof path)) {
      k_fail("cd: path too long");
      return NULL;
    }
    if (stat(path, &st) != 0) {
      k_fail("cd: %s: %s", path, strerror(errno));
      return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
      k_fail("cd: %s: not a directory", path);
      return NULL;
    }
    snprintf(k_cwd, sizeof k_cwd, "%s", path);
    return &k_void;
  }
  if (!strcmp(name, "ls")) {
    if (n > 1) {
      k_fail("(ls [\"path\"]) takes at most one argument");
      return NULL;
    }
    const char *arg = n == 0 ? "." : path_arg("(ls [\"path\"])", args[0]);
    return arg ? ls(arg) : NULL;
  }
  if (!strcmp(name, "cat")) {
    if (n != 1) {
      k_fail("(cat \"path\") takes one argument");
      return NULL;
    }
    const char *arg = path_arg("(cat \"path\")", args[0]);
    return arg ? cat(arg) : NULL;
  }
  if (!strcmp(name, "help")) {
    for (size_t i = 0; i < sizeof help_lines / sizeof *help_lines; i++) printf("%s\n", help_lines[i]);
    return &k_void;
  }
  if (!strcmp(name, "exit")) {
    if (n > 1 || (n == 1 && args[0]->type != V_INT)) {
      k_fail("(exit [code]): the code is an integer");
      return NULL;
    }
    k_exit_requested = true;
    k_exit_code = n == 1 ? (int)(args[0]->u.i & 0xff) : 0;
    return &k_void;
  }
  *found = false;
  return NULL;
}

// ---- running a child, its stdout and stderr streamed as they come ------------------------------------------------

typedef struct run_state {
  int open_streams; // reads still going (stdout, stderr)
  bool exited;
  int32_t code;
  char error[256];
} run_state;

typedef struct stream_pump {
  ww_cap *stream;
  FILE *to;
  run_state *run;
} stream_pump;

static void check_done(run_state *r) {
  if (r->open_streams == 0 && r->exited) ww_stop(0);
}

static void read_next(stream_pump *p);

static void on_read(ww_call *c, void *arg) {
  stream_pump *p = arg;
  bool more = false;
  if (ww_call_error(c) == NULL) {
    cp_data d = system_ByteStream_read_Results_get_data(system_ByteStream_read_Results_read(ww_results(c)));
    if (d.len > 0) {
      fwrite(d.ptr, 1, d.len, p->to);
      fflush(p->to);
      more = true;
    }
  }
  ww_call_free(c);
  if (more) {
    read_next(p);
  } else {
    p->run->open_streams--;
    check_done(p->run);
  }
}

static void read_next(stream_pump *p) {
  ww_call *c = ww_call_new(p->stream, system_ByteStream_TYPE_ID, system_ByteStream_read);
  system_ByteStream_read_Params_set_maxBytes(system_ByteStream_read_Params_init(ww_call_params(c)), 65536);
  ww_send(c);
  ww_then(c, on_read, p);
}

static void on_exit_code(ww_call *c, void *arg) {
  run_state *r = arg;
  const char *e = ww_call_error(c);
  if (e) {
    snprintf(r->error, sizeof r->error, "%s", e);
    r->code = -1;
  } else {
    r->code = system_Process_wait_Results_get_exitCode(system_Process_wait_Results_read(ww_results(c)));
  }
  ww_call_free(c);
  r->exited = true;
  check_done(r);
}

int k_run_module(const uint8_t *wasm, size_t len, const char *const *args, const char *const *env) {
  ww_process p;
  fflush(stdout);
  if (ww_run_bytes(k_session.executor, wasm, len, args, env, &p) != 0) {
    k_fail_call(ww_error());
    return -1;
  }
  ww_stream_close(p.stdin_stream); // the child reads EOF
  run_state r = {.open_streams = 2};
  stream_pump out = {p.stdout_stream, stdout, &r}, err = {p.stderr_stream, stderr, &r};
  read_next(&out);
  read_next(&err);
  ww_call *w = ww_call_new(p.process, system_Process_TYPE_ID, system_Process_wait);
  system_Process_wait_Params_init(ww_call_params(w));
  ww_send(w);
  ww_then(w, on_exit_code, &r);
  int status = ww_run();
  ww_process_release(&p);
  if (status != 0 && !(r.exited && r.open_streams == 0)) {
    k_fail("the host connection ended: %s", ww_disconnect_reason() ? ww_disconnect_reason() : "?");
    return -1;
  }
  if (r.code < 0) {
    k_fail_call(r.error);
    return -1;
  }
  return r.code;
}
