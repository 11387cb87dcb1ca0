/* The container's stdio: two pipes (stdout, stderr), or for tty a pty whose
 * master the runtime hands over on a console socket (SCM_RIGHTS). stdin is
 * /dev/null, or with --stdin-open a pipe whose write end the monitor holds and
 * never writes, so a program reading stdin waits instead of seeing EOF (with a
 * tty the pty already behaves so). */
#include "mon.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int mon_stdio_prepare(struct mon *m, int *child_in, int *child_out, int *child_err) {
  int o[2], e[2], in[2];
  *child_in = -1;
  if (m->stdin_w >= 0) { close(m->stdin_w); m->stdin_w = -1; }
  if (m->stdin_open && !m->tty) {
    if (pipe2(in, O_CLOEXEC) < 0) return -1;
    *child_in = in[0];
    m->stdin_w = in[1];
  }
  if (pipe2(e, O_CLOEXEC) < 0) return -1;
  m->err.fd = e[0];
  m->err.len = 0;
  mon_set_nonblock(e[0]); /* only our read ends: the container's write ends stay blocking */
  *child_err = e[1];
  m->out.len = 0;
  if (!m->tty) {
    if (pipe2(o, O_CLOEXEC) < 0) return -1;
    m->out.fd = o[0];
    mon_set_nonblock(o[0]);
    *child_out = o[1];
    return 0;
  }
  /* tty: stderr pipe only carries the runtime's own errors during create */
  *child_out = -1;
  m->out.fd = -1;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(m->console_path) >= sizeof sa.sun_path) { errno = ENAMETOOLONG; return -1; }
  strcpy(sa.sun_path, m->console_path);
  unlink(m->console_path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  mode_t old = umask(0177); /* 0600: the terminal's master end is handed over here */
  int r = bind(s, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (r < 0 || listen(s, 1) < 0) { close(s); return -1; }
  m->console_listen = s;
  return 0;
}

int mon_stdio_after_create(struct mon *m) {
  if (!m->tty) return 0;
  int rc = -1;
  struct pollfd pfd = { .fd = m->console_listen, .events = POLLIN };
  if (poll(&pfd, 1, 2000) == 1) {
    int c = accept4(m->console_listen, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) {
      char data[256];
      char ctrl[CMSG_SPACE(sizeof(int))];
      struct iovec iov = { data, sizeof data };
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl };
      if (recvmsg(c, &msg, MSG_CMSG_CLOEXEC) >= 0) {
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
          memcpy(&m->out.fd, CMSG_DATA(cm), sizeof(int));
          mon_set_nonblock(m->out.fd);
          rc = 0;
        }
      }
      close(c);
    }
  }
  close(m->console_listen);
  m->console_listen = -1;
  unlink(m->console_path);
  if (m->err.fd >= 0) { close(m->err.fd); m->err.fd = -1; }
  return rc;
}
