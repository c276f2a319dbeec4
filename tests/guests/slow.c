// Prints "slow: first", waits 4 s, prints "slow: last": the kernel must show the first line before
// the command ends (its output is streamed, not collected).
#include <stdio.h>
#include <time.h>

int main(void) {
  printf("slow: first\n");
  fflush(stdout);
  struct timespec t = {.tv_sec = 4};
  nanosleep(&t, NULL);
  printf("slow: last\n");
  return 0;
}
