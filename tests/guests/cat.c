// stdin to stdout until end of file. With "poll MS": first poll(2) stdin for MS milliseconds and say
// "timeout" or "ready" on stderr.
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "poll") == 0) {
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int r = poll(&p, 1, atoi(argv[2]));
    fprintf(stderr, r == 0 ? "timeout\n" : r > 0 ? "ready\n" : "poll failed\n");
  }
  static char buf[65536];
  ssize_t n;
  while ((n = read(0, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, n - off);
      if (w < 0) {
        fprintf(stderr, "write: %s\n", strerror(errno));
        return 1;
      }
      off += w;
    }
  }
  if (n < 0) {
    fprintf(stderr, "read: %s\n", strerror(errno));
    return 1;
  }
  return 0;
}
