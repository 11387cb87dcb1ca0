#include "console.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int console_connect(const char *path, err_t *e) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return ts_fail(e, "console socket path %s is too long", path);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ts_failerr(e, "socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    ts_failerr(e, "cannot connect to console socket %s", path);
    close(fd);
    return -1;
  }
  return fd;
}

int console_send_fd(int sock, int fd, const char *name, err_t *e) {
  char ctl[CMSG_SPACE(sizeof(int))];
  memset(ctl, 0, sizeof ctl);
  struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) return ts_failerr(e, "cannot pass a descriptor over a unix socket");
  return 0;
}

int console_recv_fd(int sock, err_t *e) {
  char name[4096], ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0) return ts_failerr(e, "cannot receive the pty master");
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return ts_fail(e, "no pty master was received");
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

int console_setup(int sock, unsigned short rows, unsigned short cols, bool bind_console, err_t *e) {
  _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return ts_failerr(e, "cannot open /dev/ptmx in the container");
  if (unlockpt(master) < 0) return ts_failerr(e, "unlockpt");
  char name[128];
  if (ptsname_r(master, name, sizeof name)) return ts_failerr(e, "ptsname");
  int slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) return ts_failerr(e, "cannot open %s", name);
  if (rows && cols) {
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) return close(slave), ts_failerr(e, "cannot set the console size");
  }
  if (bind_console) {
    /* Best effort when /dev is read-only and has no console to bind over. */
    if (access("/dev/console", F_OK) != 0) {
      int fd = open("/dev/console", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
      if (fd >= 0) close(fd);
    }
    if (access("/dev/console", F_OK) == 0 && mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
      return close(slave), ts_failerr(e, "cannot bind %s over /dev/console", name);
  }
  if (console_send_fd(sock, master, name, e) < 0) return close(slave), -1;
  if (ioctl(slave, TIOCSCTTY, 0) < 0) return close(slave), ts_failerr(e, "cannot make %s the controlling terminal", name);
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) return close(slave), ts_failerr(e, "dup2 %s", name);
  if (slave > 2) close(slave);
  return 0;
}

void console_proxy(int master, volatile int *stop) {
  struct termios saved, raw;
  int is_tty = tcgetattr(0, &saved) == 0;
  if (is_tty) {
    raw = saved;
    cfmakeraw(&raw);
    tcsetattr(0, TCSANOW, &raw);
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
  }
  struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = master, .events = POLLIN}};
  char buf[8192];
  while (!*stop) {
    int r = poll(p, 2, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) ts_write_all(master, buf, (size_t)n);
      else p[0].fd = -1;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break;
      ts_write_all(1, buf, (size_t)n);
    }
  }
  /* The child may exit with output still queued in the pty: drain it, or the
   * caller loses the last lines (the read ends with EIO once the slave is gone). */
  int fl = fcntl(master, F_GETFL);
  if (fl >= 0 && fcntl(master, F_SETFL, fl | O_NONBLOCK) == 0) {
    for (;;) {
      struct pollfd d = {.fd = master, .events = POLLIN};
      if (poll(&d, 1, 50) <= 0) break;
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break;
      ts_write_all(1, buf, (size_t)n);
    }
  }
  if (is_tty) tcsetattr(0, TCSANOW, &saved);
}
