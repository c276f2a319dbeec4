// Clocks, sleeping (poll_oneoff with relative and absolute clock subscriptions), randomness, sched_yield.
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int64_t ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void) {
  printf("realtime=%lld\n", (long long)(ns(CLOCK_REALTIME) / 1000000000));
  struct timespec res;
  clock_getres(CLOCK_MONOTONIC, &res);
  printf("monotonic-res-ns=%ld\n", res.tv_nsec);

  int64_t t0 = ns(CLOCK_MONOTONIC);
  struct timespec twenty_ms = {0, 20 * 1000000};
  nanosleep(&twenty_ms, NULL);
  printf("relative-sleep-ms=%lld\n", (long long)((ns(CLOCK_MONOTONIC) - t0) / 1000000));

  t0 = ns(CLOCK_MONOTONIC);
  int64_t wake = ns(CLOCK_REALTIME) + 30 * 1000000;
  struct timespec until = {wake / 1000000000, wake % 1000000000};
  clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL);
  printf("absolute-sleep-ms=%lld\n", (long long)((ns(CLOCK_MONOTONIC) - t0) / 1000000));

  unsigned char a[16], b[16];
  getentropy(a, sizeof a);
  getentropy(b, sizeof b);
  printf("random=");
  for (int i = 0; i < 16; i++) printf("%02x", a[i]);
  printf("\nrandom2=");
  for (int i = 0; i < 16; i++) printf("%02x", b[i]);
  printf("\nsched_yield=%d\n", sched_yield());
  return 0;
}
