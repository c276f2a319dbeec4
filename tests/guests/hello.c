// argv, environment, stdout and stderr, and the exit code: EXIT_CODE=n exits with n through exit(),
// RETURN_CODE=n returns n from main (wasi-libc turns a non-zero return into proc_exit). SHOW_TTY=1 adds
// what isatty says of fds 0, 1 and 2.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  for (char **e = environ; *e; e++) printf("env %s\n", *e);
  if (getenv("SHOW_TTY")) printf("isatty=%d%d%d\n", isatty(0), isatty(1), isatty(2));
  fprintf(stderr, "hello on stderr\n");
  const char *code = getenv("EXIT_CODE");
  if (code) exit(atoi(code));
  code = getenv("RETURN_CODE");
  return code ? atoi(code) : 0;
}
