/* Kill-on-close guard. A child holds the read end of a pipe whose only writer
 * is the monitor. If the monitor dies without writing 'q' (SIGKILL, crash),
 * read() sees EOF and the guard runs `runtime delete --force`, which kills the
 * container: no orphaned container survives its monitor. The container's init
 * was re-parented to the monitor (subreaper); after the monitor's death it goes
 * to the next subreaper or pid 1, which reaps it.
 *
 * The child execs the small tsstack-guard (native/guard/) beside the monitor's
 * binary: a fork of the monitor would keep a copy of the monitor's pages for
 * the container's whole life. When the monitor has died, tsstack-guard runs
 * this binary again with --guard-cleanup and the monitor's arguments, which
 * does the work below (mon_guard_cleanup). Without a tsstack-guard (an older
 * build), the child stays a fork of the monitor and does the same itself. */
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

void mon_guard_cleanup(struct mon *m) {
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
}

/* In the forked child: fd 3 = the pipe, fd 4 = the monitor's binary, fd 5 = the sync pipe (close-on-exec). Returns if the exec fails. */
static void exec_small_guard(const struct mon *m) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
  if (n <= 0) return;
  self[n] = 0;
  char *slash = strrchr(self, '/');
  if (!slash) return;
  strcpy(slash + 1, "tsstack-guard");
  char *argv[m->argc + 3];
  int k = 0;
  argv[k++] = self;
  argv[k++] = m->argv[0];
  argv[k++] = "--guard-cleanup";
  for (int i = 1; i < m->argc; i++) argv[k++] = m->argv[i];
  argv[k] = NULL;
  execv(self, argv); /* the environment too: the runtime it runs at the end may need it (rootless) */
}

/* fd moved to `to`, kept across exec or not */
static void move_fd(int fd, int to, bool cloexec) {
  if (fd != to) { dup2(fd, to); close(fd); }
  fcntl(to, F_SETFD, cloexec ? FD_CLOEXEC : 0);
}

int mon_guard_start(struct mon *m) {
  int p[2], sync[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  if (pipe2(sync, O_CLOEXEC) < 0) { close(p[0]); close(p[1]); return -1; }
  pid_t pid = fork();
  if (pid < 0) { close(p[0]); close(p[1]); close(sync[0]); close(sync[1]); return -1; }
  if (pid > 0) {
    close(p[0]);
    close(sync[1]);
    m->guard_fd = p[1];
    m->guard_pid = pid;
    /* EOF once the child has become tsstack-guard, a byte if it stays a fork: either way it answers
     * to the name tsstack-guard before anything records its pid */
    char b;
    while (read(sync[0], &b, 1) < 0 && errno == EINTR) {}
    close(sync[0]);
    return 0;
  }
  /* guard */
  close(p[1]);
  close(sync[0]);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL); /* a stop signal meant for the monitor must not hit the guard */
  setpgid(0, 0); /* its own process group: a signal to the monitor's group must not take the guard with it */
  /* above every fd the moves below write to, then into place */
  int rfd = fcntl(p[0], F_DUPFD_CLOEXEC, 10), sfd = fcntl(sync[1], F_DUPFD_CLOEXEC, 10);
  close(p[0]);
  close(sync[1]);
  int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (exe >= 0) { int e = fcntl(exe, F_DUPFD_CLOEXEC, 10); close(exe); exe = e; }
  move_fd(rfd, 3, false);
  move_fd(sfd, 5, true);
  if (exe >= 0) move_fd(exe, 4, false);
  else close(4);
  mon_close_from(6);
  if (exe >= 0) exec_small_guard(m);
  /* no tsstack-guard to run: this fork guards */
  close(4);
  prctl(PR_SET_NAME, "tsstack-guard");
  ssize_t w = write(5, "f", 1);
  (void)w;
  close(5);
  char c;
  ssize_t r;
  while ((r = read(3, &c, 1)) < 0 && errno == EINTR) {}
  if (r == 1 && c == 'q') _exit(0);
  mon_guard_cleanup(m);
  _exit(0);
}

void mon_guard_release(struct mon *m) {
  if (m->guard_fd < 0) return;
  mon_write_all(m->guard_fd, "q", 1);
  close(m->guard_fd);
  m->guard_fd = -1;
  while (waitpid(m->guard_pid, NULL, 0) < 0 && errno == EINTR) {}
}
