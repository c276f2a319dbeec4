// Asks for more memory than the cell allows: memory.grow must say -1 and malloc must fail with ENOMEM,
// while the guest (and the host) carry on.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Each block is kept (chained through its first word) so the compiler cannot elide the allocations.
static void *volatile keep;

int main(void) {
  // 65535 pages: just under 4 GiB in one step.
  printf("grow=%d\n", (int)__builtin_wasm_memory_grow(0, 65535));
  size_t mib = 0;
  void *p;
  errno = 0;
  while ((p = malloc(1 << 20)) != NULL) {
    memset(p, 0xab, 1 << 20);
    *(void **)p = keep;
    keep = p;
    mib++;
  }
  printf("allocated=%zu MiB\n", mib);
  printf("malloc=%s\n", errno == ENOMEM ? "ENOMEM" : strerror(errno));
  return 0;
}
