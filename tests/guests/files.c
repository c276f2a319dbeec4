// The image root at fd 3, through wasi-libc as a POSIX program uses it. Commands (argv[1]):
//   ls DIR       one line per entry: "d name" or "f name" (including . and ..)
//   cat FILE     the file's bytes to stdout
//   stat PATH    "file size=N" or "dir"
//   seek FILE    seeks, tells and preads, printing what they see
//   open PATH    "OK" or the errno name of open(PATH, O_RDONLY)
//   write FILE   every way of changing the image, one "what=ERRNO" line each
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errnames.h"

static int cmd_ls(const char *path) {
  DIR *d = opendir(path);
  if (!d) {
    printf("opendir=%s\n", errname(errno));
    return 1;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) printf("%c %s\n", e->d_type == DT_DIR ? 'd' : 'f', e->d_name);
  closedir(d);
  return 0;
}

static int cmd_cat(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("fopen=%s\n", errname(errno));
    return 1;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  if (ferror(f)) printf("read=%s\n", errname(errno));
  fclose(f);
  return 0;
}

static int cmd_stat(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    printf("stat=%s\n", errname(errno));
    return 1;
  }
  if (S_ISDIR(st.st_mode)) printf("dir\n");
  else printf("file size=%lld\n", (long long)st.st_size);
  return 0;
}

static int cmd_seek(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("open=%s\n", errname(errno));
    return 1;
  }
  char buf[16] = {0};
  printf("set=%lld\n", (long long)lseek(fd, 2, SEEK_SET));
  ssize_t n = read(fd, buf, 3);
  printf("read=%.*s\n", (int)n, buf);
  printf("tell=%lld\n", (long long)lseek(fd, 0, SEEK_CUR));
  printf("end=%lld\n", (long long)lseek(fd, -2, SEEK_END));
  n = read(fd, buf, sizeof buf);
  printf("tail=%.*s\n", (int)n, buf);
  n = read(fd, buf, sizeof buf);
  printf("eof=%zd\n", n);
  n = pread(fd, buf, 4, 1);
  printf("pread=%.*s\n", (int)n, buf);
  printf("after-pread=%lld\n", (long long)lseek(fd, 0, SEEK_CUR));
  errno = 0;
  printf("negative=%lld %s\n", (long long)lseek(fd, -100, SEEK_SET), errname(errno));
  struct stat st;
  fstat(fd, &st);
  printf("fstat size=%lld\n", (long long)st.st_size);
  close(fd);
  return 0;
}

static int cmd_open(const char *path) {
  int fd = open(path, O_RDONLY);
  printf("%s\n", fd >= 0 ? "OK" : errname(errno));
  if (fd >= 0) close(fd);
  return 0;
}

#define TRY(what, expr)                                \
  do {                                                 \
    errno = 0;                                         \
    int r_ = (expr);                                   \
    printf("%s=%s\n", what, r_ >= 0 ? "OK" : errname(errno)); \
  } while (0)

static int cmd_write(const char *path) {
  TRY("open-wronly", open(path, O_WRONLY));
  TRY("open-rdwr", open(path, O_RDWR));
  TRY("open-append", open(path, O_WRONLY | O_APPEND));
  TRY("open-trunc", open(path, O_RDONLY | O_TRUNC));
  TRY("create", open("/new-file", O_WRONLY | O_CREAT, 0644));
  TRY("create-excl", open(path, O_WRONLY | O_CREAT | O_EXCL, 0644));
  TRY("unlink", unlink(path));
  TRY("mkdir", mkdir("/new-dir", 0755));
  TRY("rmdir", rmdir("/etc"));
  TRY("rename", rename(path, "/renamed"));
  TRY("symlink", symlink(path, "/link"));
  TRY("link", link(path, "/hardlink"));
  int fd = open(path, O_RDONLY);
  TRY("write-readonly-fd", (int)write(fd, "x", 1));
  TRY("ftruncate", ftruncate(fd, 0));
  close(fd);
  TRY("write-dirfd", (int)write(3, "x", 1));
  TRY("write-stdin", (int)write(0, "x", 1));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: files ls|cat|stat|seek|open|write PATH\n");
    return 2;
  }
  const char *cmd = argv[1], *path = argv[2];
  if (strcmp(cmd, "ls") == 0) return cmd_ls(path);
  if (strcmp(cmd, "cat") == 0) return cmd_cat(path);
  if (strcmp(cmd, "stat") == 0) return cmd_stat(path);
  if (strcmp(cmd, "seek") == 0) return cmd_seek(path);
  if (strcmp(cmd, "open") == 0) return cmd_open(path);
  if (strcmp(cmd, "write") == 0) return cmd_write(path);
  fprintf(stderr, "unknown command %s\n", cmd);
  return 2;
}
