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
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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
  close_range(4, ~0U, 0);
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
  char *del[] = { "delete", "--force", (char *)m->id, NULL };
  mon_runtime_run(m, del, NULL, 0);
  m->st.status = "dead";
  m->st.pid = 0;
  m->st.exit_code = 137; /* delete --force ends it with SIGKILL */
  m->st.signal = 9;
  snprintf(m->st.error, sizeof m->st.error, "the monitor died; the container was removed");
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
