/* Control socket: a client connects, writes one line, reads "ok\n" or "error …\n".
 *   stop [timeout_ms]   stop signal, then SIGKILL after the grace period; no more restarts
 *   kill SIGNAL         send a signal to the container's init (SIGKILL or the stop signal also disables restart)
 * Up to MON_CTL_CLIENTS connections are read without blocking from the main loop; a client
 * that sends no full line within 10 s is dropped. */
#include "mon.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENT_TIMEOUT_MS 10000

int mon_ctl_listen(struct mon *m) {
  m->ctl_fd = -1;
  for (int i = 0; i < MON_CTL_CLIENTS; i++) m->ctl_clients[i].fd = -1;
  if (!m->socket_path) return 0;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(m->socket_path) >= sizeof sa.sun_path) { errno = ENAMETOOLONG; return -1; }
  strcpy(sa.sun_path, m->socket_path);
  unlink(m->socket_path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return -1;
  /* 0600: only root may stop or signal the container (its directory is 0700 too) */
  mode_t old = umask(0177);
  int r = bind(s, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (r < 0 || listen(s, 8) < 0) { close(s); return -1; }
  m->ctl_fd = s;
  struct stat st;
  m->ctl_ino = stat(m->socket_path, &st) == 0 ? st.st_ino : 0;
  return 0;
}

/* Removes the socket only if it is still ours: a newer monitor for the same container may have bound the path. */
void mon_ctl_close(struct mon *m) {
  if (m->ctl_fd < 0) return;
  close(m->ctl_fd);
  m->ctl_fd = -1;
  struct stat st;
  if (stat(m->socket_path, &st) == 0 && st.st_ino == m->ctl_ino) unlink(m->socket_path);
  for (int i = 0; i < MON_CTL_CLIENTS; i++)
    if (m->ctl_clients[i].fd >= 0) { close(m->ctl_clients[i].fd); m->ctl_clients[i].fd = -1; }
}

void mon_ctl_accept(struct mon *m) {
  for (;;) {
    int c = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) return;
    struct mon_ctl_client *slot = NULL;
    for (int i = 0; i < MON_CTL_CLIENTS && !slot; i++)
      if (m->ctl_clients[i].fd < 0) slot = &m->ctl_clients[i];
    if (!slot) {
      const char *busy = "error busy\n";
      (void)!write(c, busy, strlen(busy));
      close(c);
      continue;
    }
    slot->fd = c;
    slot->len = 0;
    slot->deadline = mon_now_ms() + CLIENT_TIMEOUT_MS;
  }
}

static const char *execute(struct mon *m, char *line) {
  if (!strncmp(line, "stop", 4) && (line[4] == 0 || line[4] == ' ')) {
    int64_t t = line[4] ? strtoll(line + 5, NULL, 10) : m->stop_timeout_ms;
    mon_request_stop(m, t < 0 ? m->stop_timeout_ms : t);
    return "ok\n";
  }
  if (!strncmp(line, "kill ", 5)) {
    int sig = mon_parse_signal(line + 5);
    if (sig < 0) return "error unknown signal\n";
    if (m->st.pid <= 0 || strcmp(m->st.status, "running")) return "error not running\n";
    /* like Docker: a kill that ends the container is a manual stop, so no restart follows */
    if (sig == SIGKILL || sig == m->stop_signal) { m->stop_requested = true; mon_health_cancel(m); }
    kill(m->st.pid, sig);
    return "ok\n";
  }
  return "error unknown command\n";
}

int mon_ctl_pollfds(struct mon *m, struct pollfd *p) {
  int n = 0;
  for (int i = 0; i < MON_CTL_CLIENTS; i++) p[n++] = (struct pollfd){ .fd = m->ctl_clients[i].fd, .events = POLLIN };
  return n;
}

static void drop(struct mon_ctl_client *c) {
  close(c->fd);
  c->fd = -1;
}

void mon_ctl_serve(struct mon *m, const struct pollfd *p, int n, int64_t now) {
  for (int i = 0; i < n && i < MON_CTL_CLIENTS; i++) {
    struct mon_ctl_client *c = &m->ctl_clients[i];
    if (c->fd < 0) continue;
    if (p[i].revents) {
      ssize_t r;
      while ((r = read(c->fd, c->line + c->len, sizeof c->line - 1 - c->len)) > 0) c->len += (size_t)r;
      c->line[c->len] = 0;
      char *nl = strchr(c->line, '\n');
      if (nl || r == 0 || c->len == sizeof c->line - 1) {
        if (nl) *nl = 0;
        c->line[strcspn(c->line, "\r")] = 0;
        const char *reply = c->len ? execute(m, c->line) : "error empty command\n";
        (void)!write(c->fd, reply, strlen(reply));
        drop(c);
        continue;
      }
      if (r < 0 && errno != EAGAIN && errno != EINTR) { drop(c); continue; }
    }
    if (now >= c->deadline) drop(c);
  }
}

int64_t mon_ctl_next_deadline(const struct mon *m) {
  int64_t d = 0;
  for (int i = 0; i < MON_CTL_CLIENTS; i++)
    if (m->ctl_clients[i].fd >= 0 && (!d || m->ctl_clients[i].deadline < d)) d = m->ctl_clients[i].deadline;
  return d;
}
