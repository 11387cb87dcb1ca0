/* Kill-on-close guard. A forked child holds the read end of a pipe whose only
 * writer is the monitor. If the monitor dies without writing 'q' (SIGKILL,
 * crash), read() sees EOF and the guard runs `runtime delete --force`, which
 * kills the container: no orphaned container survives its monitor. The
 * container's init was re-parented to the monitor (subreaper); after the
 * monitor's death it goes to the next subreaper or pid 1, which reaps it. */
#include "mon.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The guard's copy of the state is the one of its fork; the monitor wrote on since. The last state
 * file is read back for what must survive the monitor (restart count, last exit, start and end
 * times) and for whether a container was running at all (not during a restart back-off). */
static long field_num(const char *json, const char *k, long dflt) {
  char pat[40];
  snprintf(pat, sizeof pat, "\"%s\":", k);
  const char *p = strstr(json, pat);
  return p ? strtol(p + strlen(pat), NULL, 10) : dflt;
}

static void field_str(const char *json, const char *k, char *out, size_t len) {
  char pat[40];
  snprintf(pat, sizeof pat, "\"%s\":\"", k);
  const char *p = strstr(json, pat);
  if (!p) return;
  p += strlen(pat);
  const char *e = strchr(p, '"');
  if (!e || (size_t)(e - p) >= len) return;
  memcpy(out, p, (size_t)(e - p));
  out[e - p] = 0;
}

/* Returns whether the last state said a container was running. */
static bool reload_state(struct mon *m) {
  static char json[16384];
  int fd = open(m->state_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  ssize_t n = read(fd, json, sizeof json - 1);
  close(fd);
  if (n <= 0) return true;
  json[n] = 0;
  m->st.restart_count = (int)field_num(json, "restartCount", m->st.restart_count);
  m->st.exit_code = (int)field_num(json, "exitCode", m->st.exit_code);
  m->st.signal = (int)field_num(json, "signal", m->st.signal);
  m->st.oom_killed = strstr(json, "\"oomKilled\":true") != NULL;
  field_str(json, "startedAt", m->st.started_at, sizeof m->st.started_at);
  field_str(json, "finishedAt", m->st.finished_at, sizeof m->st.finished_at);
  return strstr(json, "\"status\":\"restarting\"") == NULL && strstr(json, "\"status\":\"exited\"") == NULL;
}

int mon_guard_start(struct mon *m) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) { close(p[0]); close(p[1]); return -1; }
  if (pid > 0) {
    close(p[0]);
    m->guard_fd = p[1];
    m->guard_pid = pid;
    return 0;
  }
  /* guard */
  close(p[1]);
  int rfd = fcntl(p[0], F_DUPFD_CLOEXEC, 3);
  if (rfd != 3) { dup2(rfd, 3); rfd = 3; }
  mon_close_from(4);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL); /* a stop signal meant for the monitor must not hit the guard */
  prctl(PR_SET_NAME, "tsstack-guard");
  setpgid(0, 0); /* its own process group: a signal to the monitor's group must not take the guard with it */
  char c;
  ssize_t r;
  while ((r = read(rfd, &c, 1)) < 0 && errno == EINTR) {}
  if (r == 1 && c == 'q') _exit(0);
  /* the monitor is gone */
  m->out.fd = m->err.fd = -1;
  m->health.enabled = false;
  bool was_running = reload_state(m);
  char *del[] = { "delete", "--force", (char *)m->id, NULL };
  mon_runtime_run(m, del, NULL, 0);
  m->st.status = "dead";
  m->st.pid = 0;
  if (was_running) {
    m->st.exit_code = 137; /* delete --force ends it with SIGKILL */
    m->st.signal = 9;
    mon_rfc3339(m->st.finished_at);
    snprintf(m->st.error, sizeof m->st.error, "the monitor died; the container was removed");
  } else {
    /* between runs (a restart back-off): nothing was killed; the last exit stays what it was */
    snprintf(m->st.error, sizeof m->st.error, "the monitor died while waiting to restart the container");
  }
  mon_state_write(m);
  _exit(0);
}

void mon_guard_release(struct mon *m) {
  if (m->guard_fd < 0) return;
  mon_write_all(m->guard_fd, "q", 1);
  close(m->guard_fd);
  m->guard_fd = -1;
  while (waitpid(m->guard_pid, NULL, 0) < 0 && errno == EINTR) {}
}
