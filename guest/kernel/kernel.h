// The standard kernel (pid0), shared declarations: values, the reader, the printer, the evaluator,
// the built-ins and daemon mode (shared/spec/shell.md).
#ifndef WW_KERNEL_H
#define WW_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ww.h"

// ---- bounds: no input can make the kernel recurse or allocate without limit -------------------------

#define K_MAX_DEPTH 128             // nesting of a form (reader, printer and evaluator)
#define K_MAX_INPUT (1u << 20)      // bytes of one pending (incomplete) form
#define K_MAX_ARENA (64u << 20)     // bytes of values one top-level form may allocate
#define K_MAX_PATH 1024             // a path, after joining with the working directory
#define K_MAX_FILE (32u << 20)      // a file read from the image (the host's module limit)

// ---- values -------------------------------------------------------------------------------------------

typedef enum {
  V_NIL,
  V_BOOL,
  V_INT,
  V_STR,
  V_SYM,
  V_KW,
  V_LIST,
  V_VEC,
  V_MAP, // items are key, value, key, value...
  V_VOID, // the result of a form that printed what it had to say: the REPL prints nothing
} vtype;

typedef struct value value;
struct value {
  vtype type;
  union {
    bool b;
    int64_t i;
    struct { char *s; size_t len; } str; // V_STR, V_SYM, V_KW (NUL-terminated; a keyword without ':')
    struct { value **items; size_t n; } seq; // V_LIST, V_VEC, V_MAP
  } u;
};

// Every value of one top-level form comes from an arena, freed when the form is done.
void *k_alloc(size_t n); // NULL (with k_error set) past K_MAX_ARENA or when memory runs out
void k_arena_reset(void);
value *v_new(vtype t);
value *v_str(const char *s, size_t len);
value *v_cstr(const char *s);
value *v_int(int64_t i);
value *v_seq(vtype t, size_t n); // n items, all NULL until filled
extern value k_nil, k_void;

// ---- errors: one per form; the first wins, and evaluation unwinds by returning NULL ---------------

bool k_failed(void);
const char *k_error(void);
void k_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void k_clear_error(void);

// ---- reader and printer ------------------------------------------------------------------------------

typedef enum { READ_OK, READ_MORE, READ_EMPTY, READ_ERROR } read_status;
// Reads one form from text[*pos..len): READ_OK (form set, *pos after it), READ_EMPTY (only blanks and
// comments left), READ_MORE (the form is incomplete: more lines needed), READ_ERROR (k_error says why).
read_status k_read(const char *text, size_t len, size_t *pos, value **form);

typedef struct strbuf {
  char *p;
  size_t len, cap;
  bool failed; // ran out of memory: the text is cut short
} strbuf;
void sb_put(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(strbuf *b);
// Appends v in reader syntax (strings quoted and escaped).
void k_print(strbuf *b, const value *v);
// Appends v as a command argument: strings, symbols and keywords raw, the rest as printed.
void k_print_arg(strbuf *b, const value *v);

// ---- the session and the evaluator ---------------------------------------------------------------------

extern ww_session k_session;
extern char k_cwd[K_MAX_PATH];

// Evaluates a top-level form; NULL on error (k_error). A stale epoch makes it re-graft once and retry.
value *k_eval_top(value *form);
value *k_eval(value *form, int depth);
// Set when a call failed with a staleEpoch: reason (the top level then re-grafts and retries).
extern bool k_stale;
// Fails the form with a call's exception reason; notes a stale epoch.
void k_fail_call(const char *reason);

// Built-ins: cd, pwd, ls, cat, help, exit. *found is false when name is none of them.
value *k_builtin(const char *name, value **args, size_t n, bool *found);
// (exit [code]) sets these; the REPL ends after the form.
extern bool k_exit_requested;
extern int k_exit_code;

// Joins path with the working directory and normalizes it (., .., //) into out: false if too long.
bool k_resolve(const char *path, char *out, size_t cap);
// Reads a whole file of the image (malloc'd, *len set), or NULL with k_error set.
uint8_t *k_read_file(const char *path, size_t *len);

// Runs a PATH command (a module's bytes) with its args, streaming its output; returns its exit code,
// or -1 with k_error set.
int k_run_module(const uint8_t *wasm, size_t len, const char *const *args, const char *const *env);

// ---- encodings -------------------------------------------------------------------------------------------

// Multiaddr binary <-> text (the protocols a libp2p node shows: ip4, ip6, tcp, udp, dns*, p2p, quic...).
bool ma_to_text(const uint8_t *b, size_t n, strbuf *out);
// Text -> binary; the /p2p/<id> component, if any, is removed and its binary Peer ID returned apart.
bool ma_from_text(const char *text, strbuf *bin, strbuf *peer);

// ---- modes -----------------------------------------------------------------------------------------------

int k_interactive(void);
int k_daemon(void);

#endif
