// Copies its stdin to fd 4 (the RPC stream) byte for byte, so a test can put any bytes on the wire:
// garbage, a message over the limits, thousands of calls. Then, by argv[1]:
//   read   reads fd 4 to stdout until end of file (what the host answered), exits 0;
//   never  never reads fd 4 again and waits on stdin (which stays open) until killed.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[65536];

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "read";
  ssize_t n;
  while ((n = read(0, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(4, buf + off, (size_t)(n - off));
      if (w < 0) {
        perror("write fd 4");
        return 2;
      }
      off += w;
    }
  }
  if (!strcmp(mode, "never")) {
    for (;;) sleep(3600);
  }
  while ((n = read(4, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
  return 0;
}
