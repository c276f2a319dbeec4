// upper: a child for the hello example. It copies stdin to stdout (upper-cased with --shout), says
// what its environment gave it, and grafts onto the Membrane its parent's executor gave it.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ww.h"

int main(int argc, char **argv) {
  int shout = argc > 1 && strcmp(argv[1], "--shout") == 0;
  const char *greeting = getenv("GREETING");
  printf("child: %s\n", greeting ? greeting : "(no greeting)");
  int c;
  while ((c = getchar()) != EOF) putchar(shout ? toupper(c) : c);
  fflush(stdout);
  ww_session s;
  if (ww_graft(&s) == 0) {
    char *reply = ww_echo(s.executor, "from the child");
    printf("child echo: %s\n", reply ? reply : ww_error());
    free(reply);
    ww_session_release(&s);
  }
  return 0;
}
