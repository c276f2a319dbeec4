// /bin/wc: with arguments, the number of bytes in them (all together, separators not counted);
// without, the lines, words and bytes of stdin, like wc(1).
#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc > 1) {
    unsigned long long bytes = 0;
    for (int i = 1; i < argc; i++) bytes += strlen(argv[i]);
    printf("%llu\n", bytes);
    return 0;
  }
  unsigned long long lines = 0, words = 0, bytes = 0;
  int c, in_word = 0;
  while ((c = getchar()) != EOF) {
    bytes++;
    if (c == '\n') lines++;
    if (isspace(c)) {
      in_word = 0;
    } else if (!in_word) {
      in_word = 1;
      words++;
    }
  }
  printf("%llu %llu %llu\n", lines, words, bytes);
  return 0;
}
