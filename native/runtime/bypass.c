#include "bypass.h"
#include "console.h"
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(__x86_64__)
#define BYPASS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define BYPASS_ARCH AUDIT_ARCH_AARCH64
#endif

static const char *annotation(const struct spec *s, const char *key) {
  return s->annotations ? json_string(json_get(s->annotations, key)) : NULL;
}

int bypass_open(const struct spec *s, int *fd, err_t *e) {
  *fd = -1;
  const char *path = annotation(s, BYPASS_SOCKET_ANNOTATION);
  if (!path) return 0;
#ifndef BYPASS_ARCH
  return 0; /* no filter for this architecture: published ports take the forwarder's way */
#endif
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof un.sun_path) return ts_fail(e, "the port daemon's socket path is too long: %s", path);
  strcpy(un.sun_path, path);
  int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c < 0 || connect(c, (struct sockaddr *)&un, sizeof un) < 0) {
    int err = errno;
    if (c >= 0) close(c);
    errno = err;
    return ts_failerr(e, "cannot reach tsstack-portd at %s (run the tsstack command again: it starts it)", path);
  }
  *fd = c;
  return 0;
}

int bypass_install(int fd, const struct spec *s, err_t *e) {
#ifdef BYPASS_ARCH
  /* bind/connect with an address length of an IPv4 or IPv6 sockaddr notify; everything else passes */
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BYPASS_ARCH, 0, 7),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bind, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_connect, 0, 4),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])), /* low half, little-endian */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 16, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 28, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  int lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (lfd < 0) {
    close(fd);
    return ts_failerr(e, "cannot load the published-port filter (seccomp user notification, Linux 5.9 or later; TSSTACK_ROOTLESS_PORTS=forward publishes through the forwarder instead)");
  }
  const char *meta = annotation(s, BYPASS_META_ANNOTATION);
  char ack = 0;
  err_t ignored = {{0}};
  if (meta && *meta && console_send_fd(fd, lfd, meta, &ignored) == 0) {
    ssize_t r;
    do r = recv(fd, &ack, 1, 0);
    while (r < 0 && errno == EINTR);
  }
  close(lfd);
  close(fd);
  if (ack != 'k') return ts_fail(e, "tsstack-portd refused this container's published ports (see its log in the run directory)");
  return 0;
#else
  close(fd);
  return 0;
#endif
}
