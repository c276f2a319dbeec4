// Traps in the way argv[1] says: unreachable, oob (store out of bounds), stack (endless recursion), div0.
#include <stdio.h>
#include <string.h>

volatile int keep_going = 1;
int recurse(int n);
// Called through a pointer the compiler cannot see through, so the recursion stays a real wasm call chain
// (no locals in linear memory, no loop): it exhausts the wasm stack, not the C shadow stack.
int (*volatile self)(int) = recurse;

__attribute__((noinline)) int recurse(int n) { return keep_going ? self(n + 1) + 1 : n; }

__attribute__((noinline)) void do_unreachable(void) { __builtin_trap(); }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "unreachable";
  printf("about to trap: %s\n", mode);
  fflush(stdout);
  if (strcmp(mode, "oob") == 0) *(volatile int *)0xfffffff0u = 1;
  if (strcmp(mode, "stack") == 0) return recurse(0);
  if (strcmp(mode, "div0") == 0) {
    volatile int zero = 0, seven = 7;
    return seven / zero;
  }
  do_unreachable();
  return 0;
}
