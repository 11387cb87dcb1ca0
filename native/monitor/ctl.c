/* Control socket: a client connects, writes one line, reads "ok\n" or "error …\n".
 *   stop [timeout_ms]   stop signal, then SIGKILL after the grace period; no more restarts
 *   kill SIGNAL         send a signal to the container's init */
#include "mon.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int mon_ctl_listen(struct mon *m) {
  m->ctl_fd = -1;
  if (!m->socket_path) return 0;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(m->socket_path) >= sizeof sa.sun_path) { errno = ENAMETOOLONG; return -1; }
  strcpy(sa.sun_path, m->socket_path);
  unlink(m->socket_path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return -1;
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 4) < 0) { close(s); return -1; }
  m->ctl_fd = s;
  return 0;
}

void mon_ctl_accept(struct mon *m) {
  int c = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  char line[128];
  size_t len = 0;
  /* a client has 1 s to send its line; the monitor is single-threaded */
  while (len < sizeof line - 1) {
    struct pollfd p = { .fd = c, .events = POLLIN };
    if (poll(&p, 1, 1000) <= 0) break;
    ssize_t r = read(c, line + len, sizeof line - 1 - len);
    if (r <= 0) break;
    len += (size_t)r;
    if (memchr(line, '\n', len)) break;
  }
  line[len] = 0;
  line[strcspn(line, "\r\n")] = 0;
  const char *reply = "ok\n";
  if (!strncmp(line, "stop", 4) && (line[4] == 0 || line[4] == ' ')) {
    int64_t t = line[4] ? strtoll(line + 5, NULL, 10) : m->stop_timeout_ms;
    mon_request_stop(m, t < 0 ? m->stop_timeout_ms : t);
  } else if (!strncmp(line, "kill ", 5)) {
    int sig = mon_parse_signal(line + 5);
    if (sig < 0) reply = "error unknown signal\n";
    else if (m->st.pid > 0 && !strcmp(m->st.status, "running")) kill(m->st.pid, sig);
    else reply = "error not running\n";
  } else {
    reply = "error unknown command\n";
  }
  mon_write_all(c, reply, strlen(reply));
  close(c);
}
