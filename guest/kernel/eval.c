// The evaluator (shared/spec/shell.md): capability forms `(host|executor|ipfs method args...)`, the
// built-ins, and any other head symbol looked up on PATH and run with executor.runBytes.
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base58.h"
#include "ipfs.capnp.h"
#include "kernel.h"
#include "stem.capnp.h"
#include "system.capnp.h"

ww_session k_session;
char k_cwd[K_MAX_PATH] = "/";
bool k_stale;

void k_fail_call(const char *reason) {
  if (!reason) reason = "failed";
  if (!strncmp(reason, "staleEpoch:", 11)) k_stale = true;
  k_fail("%s", reason);
}

// Waits for a sent call: the call with its results, or NULL (the form fails with its reason; freed).
static ww_call *settle(ww_call *c) {
  if (ww_wait(c) == 0) return c;
  k_fail_call(ww_call_error(c));
  ww_call_free(c);
  return NULL;
}

static bool is_text(const value *v) { return v->type == V_STR || v->type == V_SYM || v->type == V_KW; }

static bool want_args(const char *form, size_t n, size_t min, size_t max) {
  if (n >= min && n <= max) return true;
  if (min == max) {
    k_fail("%s takes %zu argument%s, got %zu", form, min, min == 1 ? "" : "s", n);
  } else {
    k_fail("%s takes %zu to %zu arguments, got %zu", form, min, max, n);
  }
  return false;
}

static const char *want_text(const char *form, value *v) {
  if (is_text(v)) return v->u.str.s;
  strbuf b = {0};
  k_print(&b, v);
  k_fail("%s wants a string, got %s", form, b.p ? b.p : "?");
  sb_free(&b);
  return NULL;
}

static value *peer_id_value(cp_data id) {
  char text[256];
  if (!b58_encode(id.ptr, id.len, text, sizeof text)) {
    k_fail("a Peer ID of %" PRIu32 " bytes is too long to show", id.len);
    return NULL;
  }
  return v_cstr(text);
}

static value *multiaddr_value(cp_data a) {
  strbuf b = {0};
  value *v = NULL;
  if (ma_to_text(a.ptr, a.len, &b) && !b.failed) v = v_str(b.p ? b.p : "", b.len);
  sb_free(&b);
  return v;
}

// A vector of an addrs list's multiaddrs as text.
static value *addrs_value(cp_list addrs) {
  value *vec = v_seq(V_VEC, cp_list_len(addrs));
  if (!vec) return NULL;
  for (uint32_t i = 0; i < cp_list_len(addrs); i++) {
    if (!(vec->u.seq.items[i] = multiaddr_value(cp_list_data(addrs, i)))) return NULL;
  }
  return vec;
}

static value *keyword(const char *k) {
  value *v = v_cstr(k);
  if (v) v->type = V_KW;
  return v;
}

// ---- (host ...) -------------------------------------------------------------------------------------------

static value *host_form(const char *method, value **args, size_t n) {
  ww_cap *host = k_session.host;
  if (!strcmp(method, "id")) {
    if (!want_args("(host id)", n, 0, 0)) return NULL;
    ww_call *c = ww_call_new(host, system_Host_TYPE_ID, system_Host_id);
    system_Host_id_Params_init(ww_call_params(c));
    if (!(c = settle(c))) return NULL;
    value *v = peer_id_value(system_Host_id_Results_get_peerId(system_Host_id_Results_read(ww_results(c))));
    ww_call_free(c);
    return v;
  }
  if (!strcmp(method, "addrs")) {
    if (!want_args("(host addrs)", n, 0, 0)) return NULL;
    ww_call *c = ww_call_new(host, system_Host_TYPE_ID, system_Host_addrs);
    system_Host_addrs_Params_init(ww_call_params(c));
    if (!(c = settle(c))) return NULL;
    value *v = addrs_value(system_Host_addrs_Results_get_addrs(system_Host_addrs_Results_read(ww_results(c))));
    ww_call_free(c);
    return v;
  }
  if (!strcmp(method, "peers")) {
    if (!want_args("(host peers)", n, 0, 0)) return NULL;
    ww_call *c = ww_call_new(host, system_Host_TYPE_ID, system_Host_peers);
    system_Host_peers_Params_init(ww_call_params(c));
    if (!(c = settle(c))) return NULL;
    cp_list peers = system_Host_peers_Results_get_peers(system_Host_peers_Results_read(ww_results(c)));
    value *vec = v_seq(V_VEC, cp_list_len(peers));
    for (uint32_t i = 0; vec && i < cp_list_len(peers); i++) {
      system_PeerInfo p = system_PeerInfo_list_get(peers, i);
      value *m = v_seq(V_MAP, 4);
      if (!m) break;
      m->u.seq.items[0] = keyword("id");
      m->u.seq.items[1] = peer_id_value(system_PeerInfo_get_peerId(p));
      m->u.seq.items[2] = keyword("addrs");
      m->u.seq.items[3] = addrs_value(system_PeerInfo_get_addrs(p));
      vec->u.seq.items[i] = m;
    }
    ww_call_free(c);
    return k_failed() ? NULL : vec;
  }
  if (!strcmp(method, "connect")) {
    if (!want_args("(host connect addr)", n, 1, 1)) return NULL;
    const char *text = want_text("(host connect addr)", args[0]);
    if (!text) return NULL;
    strbuf bin = {0}, peer = {0};
    if (!ma_from_text(text, &bin, &peer)) {
      sb_free(&bin);
      sb_free(&peer);
      return NULL;
    }
    if (peer.len == 0) {
      sb_free(&bin);
      sb_free(&peer);
      k_fail("host connect: the address needs a /p2p/<peer id> part: %s", text);
      return NULL;
    }
    ww_call *c = ww_call_new(host, system_Host_TYPE_ID, system_Host_connect);
    system_Host_connect_Params_builder p = system_Host_connect_Params_init(ww_call_params(c));
    system_Host_connect_Params_set_peerId(p, peer.p, peer.len);
    cp_list_b addrs = system_Host_connect_Params_init_addrs(p, bin.len > 0 ? 1 : 0);
    if (bin.len > 0) cp_lb_data(addrs, 0, bin.p, bin.len);
    sb_free(&bin);
    sb_free(&peer);
    if (!(c = settle(c))) return NULL;
    ww_call_free(c);
    return &k_nil;
  }
  k_fail("host has no method '%s' (see (help))", method);
  return NULL;
}

// ---- (executor ...) -----------------------------------------------------------------------------------------

static value *executor_form(const char *method, value **args, size_t n) {
  if (!strcmp(method, "echo")) {
    if (!want_args("(executor echo text)", n, 1, 1)) return NULL;
    strbuf b = {0};
    k_print_arg(&b, args[0]);
    ww_call *c = ww_call_new(k_session.executor, system_Executor_TYPE_ID, system_Executor_echo);
    system_Executor_echo_Params_set_message_len(system_Executor_echo_Params_init(ww_call_params(c)), b.p ? b.p : "", b.len);
    sb_free(&b);
    if (!(c = settle(c))) return NULL;
    cp_text r = system_Executor_echo_Results_get_response(system_Executor_echo_Results_read(ww_results(c)));
    value *v = v_str(r.str ? r.str : "", r.len);
    ww_call_free(c);
    return v;
  }
  k_fail("executor has no method '%s' (see (help))", method);
  return NULL;
}

// ---- (ipfs ...) -----------------------------------------------------------------------------------------------

static bool is_utf8(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      k = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      k = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      k = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + k >= n) return false;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += k + 1;
  }
  return true;
}

// A binary CID as text: CIDv0 (a bare sha2-256 multihash) in base58btc, CIDv1 in base32 ('b' multibase).
static value *cid_value(cp_data cid) {
  if (cid.len == 34 && cid.ptr[0] == 0x12 && cid.ptr[1] == 0x20) {
    char text[64];
    b58_encode(cid.ptr, cid.len, text, sizeof text);
    return v_cstr(text);
  }
  strbuf b = {0};
  sb_put(&b, "b", 1);
  uint32_t buffer = 0;
  int bits = 0;
  for (uint32_t i = 0; i < cid.len; i++) {
    buffer = (buffer << 8) | cid.ptr[i];
    bits += 8;
    while (bits >= 5) {
      sb_put(&b, &"abcdefghijklmnopqrstuvwxyz234567"[(buffer >> (bits - 5)) & 31], 1);
      bits -= 5;
    }
  }
  if (bits > 0) sb_put(&b, &"abcdefghijklmnopqrstuvwxyz234567"[(buffer << (5 - bits)) & 31], 1);
  value *v = v_str(b.p, b.len);
  sb_free(&b);
  return v;
}

static value *ipfs_form(const char *method, value **args, size_t n) {
  // Client.unixfs() gives the API; the call on it is pipelined (one round trip).
  ww_call *api = ww_call_new(k_session.ipfs, ipfs_Client_TYPE_ID, ipfs_Client_unixfs);
  ipfs_Client_unixfs_Params_init(ww_call_params(api));
  bool cat = !strcmp(method, "cat"), ls = !strcmp(method, "ls"), add = !strcmp(method, "add");
  if (!cat && !ls && !add) {
    ww_call_free(api);
    k_fail("ipfs has no method '%s' (see (help))", method);
    return NULL;
  }
  const char *form = cat ? "(ipfs cat path)" : ls ? "(ipfs ls path)" : "(ipfs add text)";
  const char *text = want_args(form, n, 1, 1) ? want_text(form, args[0]) : NULL;
  if (!text) {
    ww_call_free(api);
    return NULL;
  }
  ww_send(api);
  ww_cap *unixfs = ww_pipeline(api, 0);
  ww_call *c;
  if (cat) {
    c = ww_call_new(unixfs, ipfs_UnixFS_TYPE_ID, ipfs_UnixFS_cat);
    ipfs_UnixFS_cat_Params_set_path(ipfs_UnixFS_cat_Params_init(ww_call_params(c)), text);
  } else if (ls) {
    c = ww_call_new(unixfs, ipfs_UnixFS_TYPE_ID, ipfs_UnixFS_ls);
    ipfs_UnixFS_ls_Params_set_path(ipfs_UnixFS_ls_Params_init(ww_call_params(c)), text);
  } else {
    c = ww_call_new(unixfs, ipfs_UnixFS_TYPE_ID, ipfs_UnixFS_add);
    ipfs_UnixFS_add_Params_set_data(ipfs_UnixFS_add_Params_init(ww_call_params(c)), text, args[0]->u.str.len);
  }
  c = settle(c);
  ww_cap_release(unixfs);
  ww_call_free(api);
  if (!c) return NULL;
  value *v = NULL;
  if (cat) {
    cp_data d = ipfs_UnixFS_cat_Results_get_data(ipfs_UnixFS_cat_Results_read(ww_results(c)));
    if (is_utf8(d.ptr, d.len)) {
      v = v_str((const char *)d.ptr, d.len);
    } else {
      char text2[64];
      snprintf(text2, sizeof text2, "<%" PRIu32 " bytes>", d.len);
      if ((v = v_cstr(text2))) v->type = V_SYM; // shown as is, not quoted
    }
  } else if (ls) {
    cp_list entries = ipfs_UnixFS_ls_Results_get_entries(ipfs_UnixFS_ls_Results_read(ww_results(c)));
    v = v_seq(V_VEC, cp_list_len(entries));
    for (uint32_t i = 0; v && i < cp_list_len(entries); i++) {
      ipfs_UnixFS_Entry e = ipfs_UnixFS_Entry_list_get(entries, i);
      value *m = v_seq(V_MAP, 8);
      if (!m) break;
      cp_text name = ipfs_UnixFS_Entry_get_name(e);
      m->u.seq.items[0] = keyword("name");
      m->u.seq.items[1] = v_str(name.str ? name.str : "", name.len);
      m->u.seq.items[2] = keyword("size");
      m->u.seq.items[3] = v_int((int64_t)ipfs_UnixFS_Entry_get_size(e));
      m->u.seq.items[4] = keyword("type");
      m->u.seq.items[5] = keyword(ipfs_UnixFS_Entry_get_type(e) == ipfs_UnixFS_Entry_EntryType_directory ? "directory" : "file");
      m->u.seq.items[6] = keyword("cid");
      m->u.seq.items[7] = cid_value(ipfs_UnixFS_Entry_get_cid(e));
      v->u.seq.items[i] = m;
    }
    if (k_failed()) v = NULL;
  } else {
    cp_text path = ipfs_UnixFS_add_Results_get_path(ipfs_UnixFS_add_Results_read(ww_results(c)));
    v = v_str(path.str ? path.str : "", path.len);
  }
  ww_call_free(c);
  return v;
}

// ---- PATH commands -------------------------------------------------------------------------------------------------

// Finds cmd on PATH: <dir>/<cmd>.wasm, then <dir>/<cmd>/main.wasm, per directory in order.
static bool find_command(const char *cmd, char *found, size_t cap) {
  if (!*cmd || strchr(cmd, '/') || !strcmp(cmd, ".") || !strcmp(cmd, "..")) return false;
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/bin";
  for (const char *p = path;;) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char dir[K_MAX_PATH], joined[K_MAX_PATH];
    if (n > 0 && n < sizeof dir) {
      memcpy(dir, p, n);
      dir[n] = 0;
      for (int pass = 0; pass < 2; pass++) {
        int w = snprintf(joined, sizeof joined, pass == 0 ? "%s/%s.wasm" : "%s/%s/main.wasm", dir, cmd);
        if (w > 0 && (size_t)w < sizeof joined && k_resolve(joined, found, cap) && access(found, R_OK) == 0) return true;
      }
    }
    if (!end) return false;
    p = end + 1;
  }
}

static value *run_command(const char *cmd, value **args, size_t n) {
  char path[K_MAX_PATH];
  if (!find_command(cmd, path, sizeof path)) {
    printf("%s: command not found\n", cmd);
    fflush(stdout);
    return &k_void;
  }
  size_t len;
  uint8_t *wasm = k_read_file(path, &len);
  if (!wasm) return NULL;
  const char **argv = k_alloc((n + 1) * sizeof *argv);
  for (size_t i = 0; argv && i < n; i++) {
    strbuf b = {0};
    k_print_arg(&b, args[i]);
    value *copy = b.failed ? NULL : v_str(b.p ? b.p : "", b.len);
    sb_free(&b);
    if (!copy) {
      k_fail("out of memory");
      argv = NULL;
      break;
    }
    argv[i] = copy->u.str.s;
  }
  if (!argv) {
    free(wasm);
    return NULL;
  }
  char path_env[K_MAX_PATH + 8];
  const char *p = getenv("PATH");
  snprintf(path_env, sizeof path_env, "PATH=%s", p && *p ? p : "/bin");
  const char *env[] = {path_env, NULL};
  int code = k_run_module(wasm, len, argv, env);
  free(wasm);
  if (code < 0) return NULL;
  if (code != 0) {
    printf("%s: exit code %d\n", cmd, code);
    fflush(stdout);
  }
  return &k_void;
}

// ---- eval ------------------------------------------------------------------------------------------------------------

value *k_eval(value *form, int depth) {
  if (depth > K_MAX_DEPTH) {
    k_fail("too deeply nested (at most %d levels)", K_MAX_DEPTH);
    return NULL;
  }
  if (form->type == V_VEC || form->type == V_MAP) {
    value *out = v_seq(form->type, form->u.seq.n);
    for (size_t i = 0; out && i < form->u.seq.n; i++) {
      if (!(out->u.seq.items[i] = k_eval(form->u.seq.items[i], depth + 1))) return NULL;
      if (out->u.seq.items[i]->type == V_VOID) out->u.seq.items[i] = &k_nil;
    }
    return out;
  }
  if (form->type != V_LIST) return form;
  size_t n = form->u.seq.n;
  if (n == 0) return &k_nil;
  value *head = form->u.seq.items[0];
  if (head->type != V_SYM) {
    strbuf b = {0};
    k_print(&b, head);
    k_fail("cannot call %s: a form starts with a capability, a built-in or a command name", b.p ? b.p : "?");
    sb_free(&b);
    return NULL;
  }
  const char *name = head->u.str.s;
  bool capability = !strcmp(name, "host") || !strcmp(name, "executor") || !strcmp(name, "ipfs");
  size_t first = capability ? 2 : 1;
  if (capability && (n < 2 || form->u.seq.items[1]->type != V_SYM)) {
    k_fail("(%s method args...): the method is a symbol (see (help))", name);
    return NULL;
  }
  size_t nargs = n - first;
  value **args = k_alloc((nargs ? nargs : 1) * sizeof *args);
  if (!args) return NULL;
  for (size_t i = 0; i < nargs; i++) {
    if (!(args[i] = k_eval(form->u.seq.items[first + i], depth + 1))) return NULL;
    if (args[i]->type == V_VOID) args[i] = &k_nil;
  }
  if (capability) {
    const char *method = form->u.seq.items[1]->u.str.s;
    if (!k_session.host) {
      k_fail("no session (graft failed)");
      return NULL;
    }
    return name[0] == 'h' ? host_form(method, args, nargs) : name[0] == 'e' ? executor_form(method, args, nargs) : ipfs_form(method, args, nargs);
  }
  bool found;
  value *v = k_builtin(name, args, nargs, &found);
  if (found) return v;
  if (!k_session.executor) {
    k_fail("no session (graft failed)");
    return NULL;
  }
  return run_command(name, args, nargs);
}

value *k_eval_top(value *form) {
  k_stale = false;
  if (!k_session.membrane && ww_graft(&k_session) != 0) {
    // Without a session only the built-ins work; capability forms and commands say why.
    memset(&k_session, 0, sizeof k_session);
  }
  value *v = k_eval(form, 0);
  if (v || !k_stale) return v;
  // The epoch moved on: graft again (fresh capabilities) and run the form once more.
  ww_session_release(&k_session);
  if (ww_graft(&k_session) != 0) {
    char reason[512];
    snprintf(reason, sizeof reason, "%s", ww_error());
    memset(&k_session, 0, sizeof k_session);
    k_clear_error();
    k_fail("the epoch changed and grafting again failed: %s", reason);
    return NULL;
  }
  k_clear_error();
  k_stale = false;
  return k_eval(form, 0);
}
