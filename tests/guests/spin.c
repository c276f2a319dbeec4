// Says "spinning" and then loops forever without calling the host: only an epoch interrupt stops it.
#include <stdio.h>

int main(void) {
  puts("spinning");
  fflush(stdout);
  volatile unsigned long long n = 0;
  for (;;) n++;
}
