// Tries to get out of a merged image, one attempt per line ("what=ERRNO" or "what=OK"): the node key,
// ".." past the root, links out of a layer and across layers, every kind of write, descriptors that do
// not exist. Run as pid0 by `ww run` over layers the test builds.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errnames.h"

static void try_open(const char *what, const char *path, int flags) {
  int fd = open(path, flags, 0644);
  printf("%s=%s\n", what, fd >= 0 ? "OK" : errname(errno));
  if (fd >= 0) close(fd);
}

static void try_result(const char *what, int r) { printf("%s=%s\n", what, r == 0 ? "OK" : errname(errno)); }

int main(void) {
  try_open("identity", "/etc/identity", O_RDONLY);
  try_open("dotdot", "/../../../etc/passwd", O_RDONLY);
  try_open("host-absolute", "/proc/self/environ", O_RDONLY);
  try_open("link-out", "/escape", O_RDONLY);
  try_open("link-across", "/b/crosslink", O_RDONLY);
  try_open("write", "/boot/main.wasm", O_WRONLY);
  try_open("create", "/new-file", O_WRONLY | O_CREAT);
  try_open("truncate", "/boot/main.wasm", O_RDONLY | O_TRUNC);
  try_result("unlink", unlink("/boot/main.wasm"));
  try_result("rename", rename("/boot/main.wasm", "/boot/x.wasm"));
  try_result("mkdir", mkdir("/newdir", 0755));
  char c;
  printf("fd5=%s\n", read(5, &c, 1) < 0 ? errname(errno) : "OK");
  printf("fd100=%s\n", read(100, &c, 1) < 0 ? errname(errno) : "OK");
  printf("fd-1=%s\n", read(-1, &c, 1) < 0 ? errname(errno) : "OK");
  DIR *d = opendir("/etc");
  int listed = 0;
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) if (!strcmp(e->d_name, "identity")) listed = 1;
    closedir(d);
  }
  printf("identity-listed=%d\n", listed);
  return 0;
}
