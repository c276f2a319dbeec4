// The file-read benchmark's guest: reads the image file argv[1] to its end with read(2) into a 1 MiB
// buffer and prints "bytes=N" (N the total read). Exit code 1 with a message on stderr on any error.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buffer[1 << 20];

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: reader PATH\n");
    return 1;
  }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  long long total = 0;
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) total += n;
  if (n < 0) {
    fprintf(stderr, "read %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  close(fd);
  printf("bytes=%lld\n", total);
  return 0;
}
