// Traps in the way argv[1] says: unreachable, oob (store out of bounds), stack (endless recursion), div0.
#include <stdio.h>
#include <string.h>

volatile int keep_going = 1;

__attribute__((noinline)) int recurse(volatile int n) {
  volatile char frame[256];
  frame[0] = (char)n;
  return keep_going ? recurse(n + 1) + frame[0] : 0;
}

__attribute__((noinline)) void do_unreachable(void) { __builtin_trap(); }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "unreachable";
  printf("about to trap: %s\n", mode);
  fflush(stdout);
  if (strcmp(mode, "oob") == 0) *(volatile int *)0xfffffff0u = 1;
  if (strcmp(mode, "stack") == 0) return recurse(0);
  if (strcmp(mode, "div0") == 0) {
    volatile int zero = 0;
    return 1 / zero;
  }
  do_unreachable();
  return 0;
}
