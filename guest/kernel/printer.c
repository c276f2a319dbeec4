// The printer: values in the reader's syntax (strings quoted and escaped), and a growable text buffer.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

void sb_put(strbuf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(strbuf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    sb_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->failed = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_put(b, big, (size_t)n);
  free(big);
}

void sb_free(strbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static void print_string(strbuf *b, const char *s, size_t n) {
  sb_put(b, "\"", 1);
  size_t run = 0; // bytes copied as they are, in one go
  for (size_t i = 0; i < n; i++) {
    const char *esc = s[i] == '"' ? "\\\"" : s[i] == '\\' ? "\\\\" : s[i] == '\n' ? "\\n" : s[i] == '\t' ? "\\t" : NULL;
    if (!esc) continue;
    sb_put(b, s + run, i - run);
    sb_puts(b, esc);
    run = i + 1;
  }
  sb_put(b, s + run, n - run);
  sb_put(b, "\"", 1);
}

static void print(strbuf *b, const value *v, int depth) {
  if (depth > K_MAX_DEPTH) {
    sb_puts(b, "...");
    return;
  }
  switch (v->type) {
    case V_NIL:
    case V_VOID:
      sb_puts(b, "nil");
      break;
    case V_BOOL:
      sb_puts(b, v->u.b ? "true" : "false");
      break;
    case V_INT:
      sb_printf(b, "%" PRId64, v->u.i);
      break;
    case V_STR:
      print_string(b, v->u.str.s, v->u.str.len);
      break;
    case V_SYM:
      sb_put(b, v->u.str.s, v->u.str.len);
      break;
    case V_KW:
      sb_put(b, ":", 1);
      sb_put(b, v->u.str.s, v->u.str.len);
      break;
    case V_LIST:
    case V_VEC:
    case V_MAP: {
      const char *open = v->type == V_LIST ? "(" : v->type == V_VEC ? "[" : "{";
      const char *close = v->type == V_LIST ? ")" : v->type == V_VEC ? "]" : "}";
      sb_puts(b, open);
      for (size_t i = 0; i < v->u.seq.n; i++) {
        if (i > 0) sb_put(b, " ", 1);
        print(b, v->u.seq.items[i], depth + 1);
      }
      sb_puts(b, close);
      break;
    }
  }
}

void k_print(strbuf *b, const value *v) { print(b, v, 0); }

void k_print_arg(strbuf *b, const value *v) {
  if (v->type == V_STR || v->type == V_SYM || v->type == V_KW) {
    if (v->type == V_KW) sb_put(b, ":", 1);
    sb_put(b, v->u.str.s, v->u.str.len);
  } else {
    print(b, v, 0);
  }
}
