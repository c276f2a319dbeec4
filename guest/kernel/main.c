// The standard kernel (pid0) of the bundled image (shared/spec/shell.md): it grafts onto its Membrane,
// then runs an interactive Lisp shell when WW_TTY=1 is in its environment, daemon mode otherwise.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

static void prompt(bool continuation) {
  if (continuation) {
    fputs("... ", stdout);
  } else {
    printf("%s \xe2\x9d\xaf ", k_cwd); // U+276F HEAVY RIGHT-POINTING ANGLE QUOTATION MARK ORNAMENT
  }
  fflush(stdout);
}

// Evaluates every complete form of pending[0..*len), keeps an incomplete tail; true when the shell ends.
static bool eval_pending(char *pending, size_t *len, bool *incomplete) {
  size_t pos = 0;
  *incomplete = false;
  for (;;) {
    value *form = NULL;
    k_clear_error();
    read_status st = k_read(pending, *len, &pos, &form);
    if (st == READ_EMPTY) {
      *len = 0;
      break;
    }
    if (st == READ_MORE) {
      // Keep the incomplete form (from where it starts) for the next line.
      memmove(pending, pending + pos, *len - pos);
      *len -= pos;
      *incomplete = true;
      break;
    }
    if (st == READ_ERROR) {
      printf("error: %s\n", k_error());
      *len = 0; // the rest of the input is dropped with the broken form
      break;
    }
    value *v = k_eval_top(form);
    if (!v) {
      printf("error: %s\n", k_error());
    } else if (v->type != V_VOID) {
      strbuf b = {0};
      k_print(&b, v);
      if (b.p) printf("%s\n", b.p);
      sb_free(&b);
    }
    fflush(stdout);
    k_arena_reset();
    if (k_exit_requested) return true;
  }
  k_arena_reset();
  fflush(stdout);
  return false;
}

int k_interactive(void) {
  static char pending[K_MAX_INPUT + 1];
  size_t len = 0;
  bool incomplete = false;
  static char line[65536]; // static: the wasm stack is only 64 KiB
  prompt(false);
  for (;;) {
    if (!fgets(line, sizeof line, stdin)) break; // end of input (Ctrl-D)
    size_t n = strlen(line);
    if (len + n > K_MAX_INPUT) {
      printf("error: a form may be at most %u bytes long\n", K_MAX_INPUT);
      len = 0;
      incomplete = false;
      // Skip the rest of an over-long line.
      while (n > 0 && line[n - 1] != '\n' && fgets(line, sizeof line, stdin)) n = strlen(line);
      prompt(false);
      continue;
    }
    memcpy(pending + len, line, n);
    len += n;
    if (n > 0 && line[n - 1] != '\n' && !feof(stdin)) continue; // a long line, read in pieces
    if (eval_pending(pending, &len, &incomplete)) break;
    prompt(incomplete);
  }
  if (!k_exit_requested) {
    if (incomplete) printf("\nerror: end of input inside a form\n");
    else putchar('\n');
  }
  fflush(stdout);
  ww_session_release(&k_session);
  return k_exit_requested ? k_exit_code : 0;
}

int main(void) {
  const char *tty = getenv("WW_TTY");
  if (tty && !strcmp(tty, "1")) {
    if (ww_graft(&k_session) != 0) {
      // The built-ins still work; capability forms and commands will say why they cannot.
      printf("error: graft failed: %s\n", ww_error());
      memset(&k_session, 0, sizeof k_session);
    }
    return k_interactive();
  }
  return k_daemon();
}
