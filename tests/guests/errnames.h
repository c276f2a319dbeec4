// Symbolic names for the errno values the tests look for.
#include <errno.h>
#include <stdio.h>

static const char *errname(int e) {
  switch (e) {
    case 0: return "OK";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EISDIR: return "EISDIR";
    case ENOENT: return "ENOENT";
    case ENOMEM: return "ENOMEM";
    case ENOSYS: return "ENOSYS";
    case ENOTDIR: return "ENOTDIR";
    case ENOTSUP: return "ENOTSUP";
    case EROFS: return "EROFS";
    case ESPIPE: return "ESPIPE";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EILSEQ: return "EILSEQ";
    case EACCES: return "EACCES";
    case EPIPE: return "EPIPE";
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "E%d", e);
      return buf;
    }
  }
}
