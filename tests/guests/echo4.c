// Echoes fd 4 (the RPC stream) back to itself until end of file, driving it with poll_oneoff as an event
// loop would: wait for FD_READ (or a clock tick of argv[1] ms), read, write what fits, wait for FD_WRITE
// when a write was partial. Prints the byte count and how many clock ticks it saw.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define RPC 4

static char buf[65536];
static int ticks;

static void wait_for(__wasi_eventtype_t type, uint64_t tick_ns) {
  for (;;) {
    __wasi_subscription_t subs[2];
    memset(subs, 0, sizeof subs);
    subs[0].userdata = 1;
    subs[0].u.tag = type;
    if (type == __WASI_EVENTTYPE_FD_READ) subs[0].u.u.fd_read.file_descriptor = RPC;
    else subs[0].u.u.fd_write.file_descriptor = RPC;
    subs[1].userdata = 2;
    subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[1].u.u.clock.timeout = tick_ns;
    __wasi_event_t events[2];
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_poll_oneoff(subs, events, 2, &n);
    if (e != 0) {
      fprintf(stderr, "poll_oneoff: %d\n", e);
      exit(3);
    }
    int ready = 0;
    for (__wasi_size_t i = 0; i < n; i++) {
      if (events[i].userdata == 2) {
        ticks++;
      } else if (events[i].error != 0) {
        fprintf(stderr, "fd event error %d\n", events[i].error);
        exit(4);
      } else {
        ready = 1;
      }
    }
    if (ready) return;
  }
}

int main(int argc, char **argv) {
  uint64_t tick_ns = (uint64_t)(argc > 1 ? atoi(argv[1]) : 1000) * 1000000;
  unsigned long long total = 0;
  for (;;) {
    wait_for(__WASI_EVENTTYPE_FD_READ, tick_ns);
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_fd_read(RPC, &iov, 1, &n);
    if (e != 0) {
      fprintf(stderr, "fd_read: %d\n", e);
      return 5;
    }
    if (n == 0) break;
    for (__wasi_size_t off = 0; off < n;) {
      __wasi_ciovec_t c = {(const uint8_t *)buf + off, n - off};
      __wasi_size_t w = 0;
      e = __wasi_fd_write(RPC, &c, 1, &w);
      if (e != 0) {
        fprintf(stderr, "fd_write: %d\n", e);
        return 6;
      }
      off += w;
      if (off < n) wait_for(__WASI_EVENTTYPE_FD_WRITE, tick_ns);
    }
    total += n;
  }
  printf("echoed %llu bytes, %d ticks\n", total, ticks);
  return 0;
}
