// The start-to-exit benchmark's guest: one line on stdout, exit code 0.
#include <stdio.h>

int main(void) {
  puts("hello from a cell");
  return 0;
}
