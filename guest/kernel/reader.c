// The reader (shared/spec/shell.md, Interactive mode): lists, vectors, maps, strings with \" \\ \n \t,
// integers, true/false/nil, symbols, keywords, ; comments. Also the value arena and the error slot.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

// ---- errors --------------------------------------------------------------------------------------------

static char error_text[512];
static bool failed;

bool k_failed(void) { return failed; }
const char *k_error(void) { return error_text; }
void k_clear_error(void) {
  failed = false;
  error_text[0] = 0;
}
void k_fail(const char *fmt, ...) {
  if (failed) return; // the first error is the one a person needs
  failed = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_text, sizeof error_text, fmt, ap);
  va_end(ap);
  // One line: a reason with a newline would break the `error: <reason>` shape.
  for (char *p = error_text; *p; p++) {
    if (*p == '\n' || *p == '\r') *p = ' ';
  }
}

// ---- the arena -------------------------------------------------------------------------------------------

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  max_align_t data[];
} chunk;
static chunk *chunks;
static size_t arena_total;

void *k_alloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n > K_MAX_ARENA || arena_total + n > K_MAX_ARENA) {
    k_fail("out of memory: a form may use at most %u MiB", K_MAX_ARENA >> 20);
    return NULL;
  }
  if (!chunks || chunks->cap - chunks->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    chunk *c = malloc(sizeof(chunk) + cap);
    if (!c) {
      k_fail("out of memory");
      return NULL;
    }
    c->next = chunks;
    c->used = 0;
    c->cap = cap;
    chunks = c;
  }
  void *p = (char *)chunks->data + chunks->used;
  chunks->used += n;
  arena_total += n;
  memset(p, 0, n);
  return p;
}

void k_arena_reset(void) {
  while (chunks) {
    chunk *next = chunks->next;
    free(chunks);
    chunks = next;
  }
  arena_total = 0;
}

value k_nil = {.type = V_NIL}, k_void = {.type = V_VOID};

value *v_new(vtype t) {
  value *v = k_alloc(sizeof *v);
  if (v) v->type = t;
  return v;
}

value *v_str(const char *s, size_t len) {
  value *v = v_new(V_STR);
  char *copy = k_alloc(len + 1);
  if (!v || !copy) return NULL;
  memcpy(copy, s, len);
  copy[len] = 0;
  v->u.str.s = copy;
  v->u.str.len = len;
  return v;
}

value *v_cstr(const char *s) { return v_str(s, strlen(s)); }

value *v_int(int64_t i) {
  value *v = v_new(V_INT);
  if (v) v->u.i = i;
  return v;
}

value *v_seq(vtype t, size_t n) {
  value *v = v_new(t);
  value **items = k_alloc((n ? n : 1) * sizeof *items);
  if (!v || !items) return NULL;
  v->u.seq.items = items;
  v->u.seq.n = n;
  return v;
}

// ---- the reader ------------------------------------------------------------------------------------------

typedef struct reader {
  const char *s;
  size_t len, pos;
  bool more; // ran off the end inside a form
} reader;

static bool is_delim(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == ',' || c == '(' ||
         c == ')' || c == '[' || c == ']' || c == '{' || c == '}' || c == '"' || c == ';';
}

static void skip_blanks(reader *r) {
  while (r->pos < r->len) {
    char c = r->s[r->pos];
    if (c == ';') {
      while (r->pos < r->len && r->s[r->pos] != '\n') r->pos++;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == ',') {
      r->pos++;
    } else {
      break;
    }
  }
}

static value *read_form(reader *r, int depth);

// A growing list of items for one collection (arena memory; copied once the closer is seen).
static value *read_seq(reader *r, vtype t, char close, int depth) {
  size_t cap = 8, n = 0;
  value **items = k_alloc(cap * sizeof *items);
  if (!items) return NULL;
  for (;;) {
    skip_blanks(r);
    if (r->pos >= r->len) {
      r->more = true;
      return NULL;
    }
    char c = r->s[r->pos];
    if (c == close) {
      r->pos++;
      break;
    }
    if (c == ')' || c == ']' || c == '}') {
      k_fail("unexpected '%c' (expected '%c')", c, close);
      return NULL;
    }
    value *item = read_form(r, depth + 1);
    if (!item) return NULL;
    if (n == cap) {
      value **bigger = k_alloc(cap * 2 * sizeof *bigger);
      if (!bigger) return NULL;
      memcpy(bigger, items, n * sizeof *items);
      items = bigger;
      cap *= 2;
    }
    items[n++] = item;
  }
  if (t == V_MAP && n % 2 != 0) {
    k_fail("a map needs an even number of forms (key value ...), got %zu", n);
    return NULL;
  }
  value *v = v_new(t);
  if (!v) return NULL;
  v->u.seq.items = items;
  v->u.seq.n = n;
  return v;
}

static value *read_string(reader *r) {
  r->pos++; // the opening quote
  size_t start = r->pos, n = 0;
  // First pass: find the end and the unescaped length.
  for (size_t i = start;; i++) {
    if (i >= r->len) {
      r->more = true;
      return NULL;
    }
    char c = r->s[i];
    if (c == '"') break;
    if (c == '\\') {
      if (i + 1 >= r->len) {
        r->more = true;
        return NULL;
      }
      char e = r->s[++i];
      if (e != '"' && e != '\\' && e != 'n' && e != 't') {
        k_fail("unknown escape '\\%c' in a string (known: \\\" \\\\ \\n \\t)", e);
        return NULL;
      }
    }
    n++;
  }
  char *out = k_alloc(n + 1);
  value *v = v_new(V_STR);
  if (!out || !v) return NULL;
  size_t k = 0;
  while (r->s[r->pos] != '"') {
    char c = r->s[r->pos++];
    if (c == '\\') {
      char e = r->s[r->pos++];
      c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
    }
    out[k++] = c;
  }
  r->pos++; // the closing quote
  out[k] = 0;
  v->u.str.s = out;
  v->u.str.len = k;
  return v;
}

static value *read_atom(reader *r) {
  size_t start = r->pos;
  while (r->pos < r->len && !is_delim(r->s[r->pos])) r->pos++;
  const char *t = r->s + start;
  size_t n = r->pos - start;
  if (n == 0) {
    k_fail("unexpected character '%c'", r->s[start]);
    r->pos++;
    return NULL;
  }
  // An integer: optional sign, then digits only.
  size_t d = (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (n > d) {
    size_t i = d;
    while (i < n && t[i] >= '0' && t[i] <= '9') i++;
    if (i == n) {
      char buf[32];
      if (n >= sizeof buf) {
        k_fail("integer out of range: %.*s", (int)(n > 40 ? 40 : n), t);
        return NULL;
      }
      memcpy(buf, t, n);
      buf[n] = 0;
      errno = 0;
      long long x = strtoll(buf, NULL, 10);
      if (errno == ERANGE) {
        k_fail("integer out of range: %s", buf);
        return NULL;
      }
      return v_int(x);
    }
  }
  if (n == 3 && !memcmp(t, "nil", 3)) return &k_nil;
  if ((n == 4 && !memcmp(t, "true", 4)) || (n == 5 && !memcmp(t, "false", 5))) {
    value *v = v_new(V_BOOL);
    if (v) v->u.b = n == 4;
    return v;
  }
  if (t[0] == ':') {
    if (n == 1) {
      k_fail("a keyword needs a name after ':'");
      return NULL;
    }
    value *v = v_str(t + 1, n - 1);
    if (v) v->type = V_KW;
    return v;
  }
  value *v = v_str(t, n);
  if (v) v->type = V_SYM;
  return v;
}

static value *read_form(reader *r, int depth) {
  if (depth > K_MAX_DEPTH) {
    k_fail("too deeply nested (at most %d levels)", K_MAX_DEPTH);
    return NULL;
  }
  skip_blanks(r);
  if (r->pos >= r->len) {
    r->more = true;
    return NULL;
  }
  char c = r->s[r->pos];
  switch (c) {
    case '(':
      r->pos++;
      return read_seq(r, V_LIST, ')', depth);
    case '[':
      r->pos++;
      return read_seq(r, V_VEC, ']', depth);
    case '{':
      r->pos++;
      return read_seq(r, V_MAP, '}', depth);
    case ')':
    case ']':
    case '}':
      r->pos++;
      k_fail("unbalanced '%c'", c);
      return NULL;
    case '"':
      return read_string(r);
    default:
      return read_atom(r);
  }
}

read_status k_read(const char *text, size_t len, size_t *pos, value **form) {
  reader r = {.s = text, .len = len, .pos = *pos};
  skip_blanks(&r);
  if (r.pos >= r.len) {
    *pos = r.pos;
    return READ_EMPTY;
  }
  value *v = read_form(&r, 0);
  if (v) {
    *pos = r.pos;
    *form = v;
    return READ_OK;
  }
  if (k_failed()) return READ_ERROR;
  return r.more ? READ_MORE : READ_ERROR;
}
