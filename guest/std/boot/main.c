// The bundled image's pid0 until the standard kernel (shell and daemon mode) lands: it greets,
// shows what it was given (argv, environment) and the image it sees at /, then exits 0.
// With WW_TTY=1 it also reads lines from stdin and echoes them until end of file (Ctrl-D).
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void list(const char *path, int depth) {
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char child[1024];
    snprintf(child, sizeof child, "%s%s%s", path, strcmp(path, "/") ? "/" : "", e->d_name);
    printf("  %s%s\n", child, e->d_type == DT_DIR ? "/" : "");
    if (e->d_type == DT_DIR && depth < 3) list(child, depth + 1);
  }
  closedir(d);
}

int main(int argc, char **argv) {
  printf("Wetware pid0: the bundled image's placeholder kernel (the standard shell comes later)\n");
  for (int i = 0; i < argc; i++) printf("argv[%d] = %s\n", i, argv[i]);
  for (char **e = environ; *e; e++) printf("env %s\n", *e);
  printf("image:\n");
  list("/", 0);
  const char *tty = getenv("WW_TTY");
  if (tty && !strcmp(tty, "1")) {
    char line[4096];
    printf("type a line (Ctrl-D ends): ");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
      printf("echo: %s", line);
      printf("type a line (Ctrl-D ends): ");
      fflush(stdout);
    }
    printf("\n");
  }
  return 0;
}
