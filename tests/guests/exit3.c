// Prints a line and exits 3: a PATH command that fails (the kernel's tests), or a crashing service.
#include <stdio.h>

int main(void) {
  printf("exit3 ran\n");
  return 3;
}
