// Calls the host with pointers and descriptors no well-behaved program would pass, through raw imports
// (wasi-libc would touch the bad pointers itself first). Prints "call=ERRNO" per attempt, then "alive".
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))

IMPORT(fd_write) int32_t raw_fd_write(int32_t fd, uint32_t iovs, uint32_t n, uint32_t nwritten);
IMPORT(fd_read) int32_t raw_fd_read(int32_t fd, uint32_t iovs, uint32_t n, uint32_t nread);
IMPORT(fd_pread) int32_t raw_fd_pread(int32_t fd, uint32_t iovs, uint32_t n, int64_t offset, uint32_t nread);
IMPORT(fd_close) int32_t raw_fd_close(int32_t fd);
IMPORT(fd_seek) int32_t raw_fd_seek(int32_t fd, int64_t offset, int32_t whence, uint32_t result);
IMPORT(fd_fdstat_get) int32_t raw_fd_fdstat_get(int32_t fd, uint32_t result);
IMPORT(fd_filestat_get) int32_t raw_fd_filestat_get(int32_t fd, uint32_t result);
IMPORT(fd_prestat_get) int32_t raw_fd_prestat_get(int32_t fd, uint32_t result);
IMPORT(fd_prestat_dir_name) int32_t raw_fd_prestat_dir_name(int32_t fd, uint32_t path, uint32_t len);
IMPORT(fd_readdir) int32_t raw_fd_readdir(int32_t fd, uint32_t buf, uint32_t len, int64_t cookie, uint32_t used);
IMPORT(fd_renumber) int32_t raw_fd_renumber(int32_t fd, int32_t to);
IMPORT(args_sizes_get) int32_t raw_args_sizes_get(uint32_t argc, uint32_t size);
IMPORT(args_get) int32_t raw_args_get(uint32_t argv, uint32_t buf);
IMPORT(environ_get) int32_t raw_environ_get(uint32_t env, uint32_t buf);
IMPORT(clock_time_get) int32_t raw_clock_time_get(int32_t id, int64_t precision, uint32_t result);
IMPORT(random_get) int32_t raw_random_get(uint32_t buf, uint32_t len);
IMPORT(path_open) int32_t raw_path_open(int32_t fd, int32_t dirflags, uint32_t path, uint32_t len, int32_t oflags,
                                        int64_t base, int64_t inheriting, int32_t fdflags, uint32_t result);
IMPORT(path_filestat_get) int32_t raw_path_filestat_get(int32_t fd, int32_t flags, uint32_t path, uint32_t len, uint32_t result);
IMPORT(poll_oneoff) int32_t raw_poll_oneoff(uint32_t in, uint32_t out, uint32_t n, uint32_t nevents);
IMPORT(sock_accept) int32_t raw_sock_accept(int32_t fd, int32_t flags, uint32_t result);
IMPORT(sock_recv) int32_t raw_sock_recv(int32_t fd, uint32_t data, uint32_t len, int32_t flags, uint32_t n, uint32_t oflags);
IMPORT(proc_raise) int32_t raw_proc_raise(int32_t sig);

#define BAD 0xfffffff0u
#define P(x) ((uint32_t)(uintptr_t)(x))

static void report(const char *what, int32_t e) { printf("%s=%d\n", what, e); }

int main(void) {
  static uint32_t word;
  static uint64_t big;
  static uint8_t space[256];
  static uint32_t iov[2];

  report("fd_write-bad-iovs", raw_fd_write(1, BAD, 1, P(&word)));
  iov[0] = BAD;
  iov[1] = 16;
  report("fd_write-bad-buffer", raw_fd_write(1, P(iov), 1, P(&word)));
  iov[0] = P(space);
  iov[1] = 0x7fffffff;
  report("fd_write-huge-length", raw_fd_write(1, P(iov), 1, P(&word)));
  iov[1] = 4;
  report("fd_write-bad-result", raw_fd_write(1, P(iov), 1, BAD));
  report("fd_write-too-many-iovs", raw_fd_write(1, P(iov), 100000, P(&word)));
  report("fd_read-bad-iovs", raw_fd_read(0, BAD, 1, P(&word)));
  iov[0] = BAD;
  report("fd_read-bad-buffer", raw_fd_read(0, P(iov), 1, P(&word)));
  report("fd_pread-bad-buffer", raw_fd_pread(3, P(iov), 1, 0, P(&word)));
  report("fd_seek-bad-result", raw_fd_seek(1, 0, 0, BAD));
  report("fd_fdstat_get-bad", raw_fd_fdstat_get(1, BAD));
  report("fd_filestat_get-bad", raw_fd_filestat_get(3, BAD));
  report("fd_prestat_get-bad", raw_fd_prestat_get(3, BAD));
  report("fd_prestat_dir_name-bad", raw_fd_prestat_dir_name(3, BAD, 1));
  report("fd_readdir-bad", raw_fd_readdir(3, BAD, 64, 0, P(&word)));
  report("args_sizes_get-bad", raw_args_sizes_get(BAD, P(&word)));
  report("args_get-bad", raw_args_get(BAD, BAD));
  report("environ_get-bad", raw_environ_get(P(space), BAD));
  report("clock_time_get-bad", raw_clock_time_get(1, 0, BAD));
  report("clock_time_get-bad-clock", raw_clock_time_get(99, 0, P(&big)));
  report("random_get-bad", raw_random_get(BAD, 64));
  report("random_get-huge", raw_random_get(P(space), 0x7fffffff));
  report("path_open-bad-path", raw_path_open(3, 0, BAD, 8, 0, 2, 0, 0, P(&word)));
  report("path_open-long-path", raw_path_open(3, 0, P(space), 100000, 0, 2, 0, 0, P(&word)));
  report("path_open-bad-result", raw_path_open(3, 0, P("etc"), 3, 0, 2, 0, 0, BAD));
  report("path_open-bad-utf8", raw_path_open(3, 0, P("\xff\xfe"), 2, 0, 2, 0, 0, P(&word)));
  report("path_filestat_get-bad", raw_path_filestat_get(3, 0, P("etc"), 3, BAD));
  report("poll_oneoff-bad-in", raw_poll_oneoff(BAD, P(space), 1, P(&word)));
  report("poll_oneoff-bad-out", raw_poll_oneoff(P(space), BAD, 1, P(&word)));
  report("poll_oneoff-none", raw_poll_oneoff(P(space), P(space), 0, P(&word)));
  report("fd_write-fd5", raw_fd_write(5, P(iov), 0, P(&word)));
  report("fd_read-fd100", raw_fd_read(100, P(iov), 0, P(&word)));
  report("fd_close-minus1", raw_fd_close(-1));
  report("fd_prestat_get-fd4", raw_fd_prestat_get(4, P(space)));
  report("fd_prestat_get-fd100", raw_fd_prestat_get(100, P(space)));
  report("path_open-on-stdout", raw_path_open(1, 0, P("etc"), 3, 0, 2, 0, 0, P(&word)));
  report("fd_renumber", raw_fd_renumber(1, 2));
  report("sock_accept", raw_sock_accept(4, 0, P(&word)));
  report("sock_recv", raw_sock_recv(4, P(iov), 1, 0, P(&word), P(&word)));
  report("proc_raise", raw_proc_raise(9));
  printf("alive\n");
  return 0;
}
