// pid0 for the `ww run --stem` pipeline tests: says which image it booted from (/etc/marker) and the epoch it
// grafted in, echoes its stdin lines back, and at end of stdin calls executor.echo with the capability it grafted
// at start (stale once the host's epoch moved on), then exits 0. Every line starts with the marker.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ww.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char marker[64] = "unmarked";
  FILE *f = fopen("/etc/marker", "r");
  if (f) {
    if (fgets(marker, sizeof marker, f)) marker[strcspn(marker, "\n")] = 0;
    fclose(f);
  }
  ww_session s;
  if (ww_graft(&s) != 0) {
    printf("%s: graft failed: %s\n", marker, ww_error());
    return 1;
  }
  ww_epoch e;
  if (ww_membrane_epoch(s.membrane, &e) != 0) {
    printf("%s: epoch failed: %s\n", marker, ww_error());
    return 1;
  }
  printf("%s: up in epoch %llu\n", marker, (unsigned long long)e.seq);
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    printf("%s: line %s\n", marker, line);
  }
  char *r = ww_echo(s.executor, "after stdin closed");
  if (r) {
    printf("%s: echo %s\n", marker, r);
    free(r);
  } else {
    printf("%s: echo failed: %s\n", marker, ww_error());
  }
  ww_session_release(&s);
  return 0;
}
