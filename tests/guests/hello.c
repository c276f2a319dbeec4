// argv, environment, stdout and stderr, and the exit code: EXIT_CODE=n exits with n through exit(),
// RETURN_CODE=n returns n from main (wasi-libc turns a non-zero return into proc_exit).
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  for (char **e = environ; *e; e++) printf("env %s\n", *e);
  fprintf(stderr, "hello on stderr\n");
  const char *code = getenv("EXIT_CODE");
  if (code) exit(atoi(code));
  code = getenv("RETURN_CODE");
  return code ? atoi(code) : 0;
}
