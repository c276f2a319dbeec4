/* loop.c: the guest's event loop on WASI poll_oneoff (guest-abi.md, fd 4 rules).
 *
 * One turn: run what is ready (deferred completions, incoming calls), write out what they queued,
 * then block in poll_oneoff on fd 4 (readable; writable while output is pending), fd 0 (when a
 * stdin reader is set) and the next timer; read what arrived and hand it to the RPC engine; run
 * what became ready; write again. Writing before blocking and again after running application
 * code is what keeps a guest from the classic deadlock (both sides blocked writing, neither
 * reading): fd 4 writes only what fits, the rest waits for FD_WRITE while reads go on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <wasi/api.h>

#include "ww_internal.h"

#define RPC_FD 4
#define READ_CHUNK 65536

typedef struct task {
  void (*fn)(void *);
  void *arg;
} task;

typedef struct timer {
  uint64_t id;
  uint64_t deadline; /* monotonic ns */
  void (*fn)(void *);
  void *arg;
} timer;

static struct {
  bool inited;
  bool writable;       /* fd 4 took everything we last gave it */
  bool stopping;
  int status;
  task *tasks;
  size_t head, tail, cap;
  timer *timers;
  size_t ntimers, timercap;
  uint64_t next_timer_id;
  void (*stdin_fn)(void *, const uint8_t *, size_t);
  void *stdin_arg;
  uint8_t *stdin_buf;
  uint64_t turns;
  uint64_t partial;
} L;

uint64_t ww__loop_turns(void) { return L.turns; }
uint64_t ww__partial_writes(void) { return L.partial; }

static void init(void) {
  if (L.inited) return;
  L.inited = true;
  L.writable = true;
  rpc_init();
}

void ww__defer(void (*fn)(void *), void *arg) {
  if (L.tail - L.head == L.cap) {
    size_t cap = L.cap ? L.cap * 2 : 256;
    task *t = ww__alloc(sizeof(task) * cap);
    for (size_t i = 0; i < L.tail - L.head; i++) t[i] = L.tasks[(L.head + i) % L.cap];
    free(L.tasks);
    L.tail -= L.head;
    L.head = 0;
    L.tasks = t;
    L.cap = cap;
  }
  L.tasks[L.tail % L.cap] = (task){fn, arg};
  L.tail++;
}

void ww_defer(void (*fn)(void *arg), void *arg) { ww__defer(fn, arg); }

/* Runs the tasks queued now (not those they queue: the loop turns in between, so a callback that
 * keeps deferring cannot starve fd 4). */
static void run_tasks(void) {
  size_t end = L.tail;
  while (L.head != end && L.head != L.tail) {
    task t = L.tasks[L.head % L.cap];
    L.head++;
    if (L.head == L.tail) L.head = L.tail = 0, end = 0;
    t.fn(t.arg);
  }
}

static uint64_t now_ns(void) {
  __wasi_timestamp_t t = 0;
  if (__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1000, &t) != 0) t = 0;
  return t;
}

uint64_t ww_timer(uint64_t delay_ms, void (*fn)(void *arg), void *arg) {
  if (L.ntimers == L.timercap) {
    L.timercap = L.timercap ? L.timercap * 2 : 8;
    L.timers = ww__realloc(L.timers, sizeof(timer) * L.timercap);
  }
  uint64_t id = ++L.next_timer_id;
  L.timers[L.ntimers++] = (timer){id, now_ns() + delay_ms * 1000000u, fn, arg};
  return id;
}

void ww_timer_cancel(uint64_t id) {
  for (size_t i = 0; i < L.ntimers; i++) {
    if (L.timers[i].id == id) {
      L.timers[i] = L.timers[--L.ntimers];
      return;
    }
  }
}

static void run_timers(void) {
  uint64_t now = now_ns();
  for (size_t i = 0; i < L.ntimers;) {
    if (L.timers[i].deadline <= now) {
      timer t = L.timers[i];
      L.timers[i] = L.timers[--L.ntimers];
      ww__defer(t.fn, t.arg);
    } else {
      i++;
    }
  }
}

void ww_on_stdin(void (*fn)(void *arg, const uint8_t *data, size_t len), void *arg) {
  L.stdin_fn = fn;
  L.stdin_arg = arg;
}

/* Writes what fd 4 takes. A write that takes less than it was given means the host's buffer is
 * full: the rest waits for FD_WRITE (guest-abi.md: fd_write on fd 4 blocks only when completely
 * full, so we never call it then). */
static void flush(void) {
  ww_conn *c = &ww__conn;
  while (c->out_head < c->out_len && L.writable) {
    __wasi_ciovec_t iov = {c->out + c->out_head, c->out_len - c->out_head};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_fd_write(RPC_FD, &iov, 1, &n);
    if (e != 0) {
      char reason[64];
      snprintf(reason, sizeof reason, "writing fd 4 failed (errno %u)", (unsigned)e);
      c->out_head = c->out_len = 0;
      rpc_close(WW_DISCONNECTED, reason);
      return;
    }
    c->out_head += n;
    if (n < iov.buf_len) {
      L.writable = false;
      L.partial++;
    }
  }
  if (c->out_head == c->out_len) c->out_head = c->out_len = 0;
  if (!c->up && !L.writable) c->out_head = c->out_len = 0; /* nobody to wait for any more */
}

static void read_rpc(void) {
  ww_conn *c = &ww__conn;
  size_t want = c->in_need > c->in_len ? c->in_need - c->in_len : 0;
  if (want < READ_CHUNK) want = READ_CHUNK;
  if (c->in_len + want > c->in_cap) {
    size_t cap = c->in_cap ? c->in_cap : READ_CHUNK * 2;
    while (cap < c->in_len + want) cap *= 2;
    c->in = ww__realloc(c->in, cap);
    c->in_cap = cap;
  }
  __wasi_iovec_t iov = {c->in + c->in_len, c->in_cap - c->in_len};
  __wasi_size_t n = 0;
  __wasi_errno_t e = __wasi_fd_read(RPC_FD, &iov, 1, &n);
  if (e != 0) {
    char reason[64];
    snprintf(reason, sizeof reason, "reading fd 4 failed (errno %u)", (unsigned)e);
    rpc_close(WW_DISCONNECTED, reason);
    return;
  }
  if (n == 0) {
    rpc_close(WW_DISCONNECTED, "the host closed the connection");
    return;
  }
  c->in_len += n;
  rpc_feed();
  /* A buffer grown for one large message goes back to its usual size once that has passed. */
  if (c->in_cap > 4 * READ_CHUNK && c->in_len < READ_CHUNK && c->in_need < READ_CHUNK) {
    c->in = ww__realloc(c->in, READ_CHUNK * 2);
    c->in_cap = READ_CHUNK * 2;
  }
}

static void read_stdin(void) {
  if (!L.stdin_buf) L.stdin_buf = ww__alloc(READ_CHUNK);
  __wasi_iovec_t iov = {L.stdin_buf, READ_CHUNK};
  __wasi_size_t n = 0;
  __wasi_errno_t e = __wasi_fd_read(0, &iov, 1, &n);
  void (*fn)(void *, const uint8_t *, size_t) = L.stdin_fn;
  void *arg = L.stdin_arg;
  if (e != 0 || n == 0) {
    L.stdin_fn = NULL; /* end of file (or an error, which ends it too) */
    fn(arg, L.stdin_buf, 0);
    return;
  }
  fn(arg, L.stdin_buf, n);
}

bool ww__loop_once(bool block) {
  init();
  run_tasks();
  flush();
  if (L.stopping) return false;
  ww_conn *c = &ww__conn;
  __wasi_subscription_t subs[4];
  size_t n = 0;
  memset(subs, 0, sizeof subs);
  if (c->up) {
    subs[n].userdata = 1;
    subs[n].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[n].u.u.fd_read.file_descriptor = RPC_FD;
    n++;
  }
  if (c->out_head < c->out_len && !L.writable) {
    subs[n].userdata = 2;
    subs[n].u.tag = __WASI_EVENTTYPE_FD_WRITE;
    subs[n].u.u.fd_write.file_descriptor = RPC_FD;
    n++;
  }
  if (L.stdin_fn) {
    subs[n].userdata = 3;
    subs[n].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[n].u.u.fd_read.file_descriptor = 0;
    n++;
  }
  bool ready = L.head != L.tail;
  uint64_t wait = UINT64_MAX;
  if (L.ntimers > 0) {
    uint64_t now = now_ns(), first = UINT64_MAX;
    for (size_t i = 0; i < L.ntimers; i++) {
      if (L.timers[i].deadline < first) first = L.timers[i].deadline;
    }
    wait = first > now ? first - now : 0;
  }
  if (ready || !block) wait = 0;
  if (n == 0 && wait == UINT64_MAX) return false; /* nothing can ever happen */
  if (wait != UINT64_MAX) {
    subs[n].userdata = 4;
    subs[n].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[n].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[n].u.u.clock.timeout = wait;
    n++;
  }
  __wasi_event_t events[4];
  __wasi_size_t got = 0;
  L.turns++;
  __wasi_errno_t e = __wasi_poll_oneoff(subs, events, n, &got);
  if (e != 0) {
    char reason[64];
    snprintf(reason, sizeof reason, "poll_oneoff failed (errno %u)", (unsigned)e);
    rpc_close(WW_DISCONNECTED, reason);
    return true;
  }
  bool readable = false, stdin_ready = false;
  for (__wasi_size_t i = 0; i < got; i++) {
    switch (events[i].userdata) {
      case 1:
        if (events[i].error != 0) {
          char reason[64];
          snprintf(reason, sizeof reason, "fd 4 cannot be polled (errno %u)", (unsigned)events[i].error);
          rpc_close(WW_DISCONNECTED, reason);
        } else {
          readable = true;
        }
        break;
      case 2:
        L.writable = true;
        break;
      case 3:
        stdin_ready = true;
        break;
      default:
        break;
    }
  }
  if (readable && c->up) read_rpc();
  if (stdin_ready && L.stdin_fn) read_stdin();
  run_timers();
  run_tasks();
  flush();
  return true;
}

int ww_run(void) {
  init();
  while (!L.stopping) {
    if (!ww__loop_once(true)) break;
  }
  int status = L.stopping ? L.status : 1;
  L.stopping = false;
  return status;
}

void ww_stop(int status) {
  L.stopping = true;
  L.status = status;
}
