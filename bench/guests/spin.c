// Kill latency (bench/cells.sh, section d): says "spinning", then loops without calling the host; with the
// argument "read", it blocks reading its stdin instead (a host call the kill must cancel).
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "read") == 0) {
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
  }
  puts("spinning");
  fflush(stdout);
  volatile unsigned long long n = 0;
  for (;;) n++;
}
