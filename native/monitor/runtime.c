/* Running the OCI runtime binary with runc's command line. */
#include "mon.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS (MON_MAX_HEALTH_ARGS + 16)

pid_t mon_runtime_spawn(const struct mon *m, char *const args[], int in_fd, int out_fd, int err_fd) {
  char *argv[MAX_ARGS + 4];
  int n = 0;
  argv[n++] = (char *)m->runtime;
  if (m->runtime_root) { argv[n++] = "--root"; argv[n++] = (char *)m->runtime_root; }
  for (int i = 0; args[i] && n < MAX_ARGS + 3; i++) argv[n++] = args[i];
  argv[n] = NULL;
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* child: only async-signal-safe calls until exec */
  int null = open("/dev/null", O_RDWR);
  int fds[3] = { in_fd, out_fd, err_fd };
  for (int i = 0; i < 3; i++) fds[i] = fds[i] >= 0 ? fds[i] : null;
  /* Move them above 2 first so dup2 never clobbers a source. */
  for (int i = 0; i < 3; i++) fds[i] = fcntl(fds[i], F_DUPFD, 10);
  for (int i = 0; i < 3; i++) dup2(fds[i], i);
  mon_close_from(3);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  signal(SIGPIPE, SIG_DFL);
  execvp(argv[0], argv);
  dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* Reads what the child writes to errbuf (first errcap-1 bytes, trailing newline cut). */
int mon_runtime_run(const struct mon *m, char *const args[], char *errbuf, size_t errcap) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  pid_t pid = mon_runtime_spawn(m, args, -1, -1, p[1]);
  close(p[1]);
  if (pid < 0) { close(p[0]); return -1; }
  size_t len = 0;
  char tmp[512];
  for (;;) {
    ssize_t r = read(p[0], tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (errbuf && len + 1 < errcap) {
      size_t take = (size_t)r < errcap - 1 - len ? (size_t)r : errcap - 1 - len;
      memcpy(errbuf + len, tmp, take);
      len += take;
    }
  }
  close(p[0]);
  if (errbuf && errcap) {
    errbuf[len] = 0;
    while (len > 0 && (errbuf[len - 1] == '\n' || errbuf[len - 1] == ' ')) errbuf[--len] = 0;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void cpid_path(const struct mon *m, char *out, size_t cap) {
  const char *slash = strrchr(m->state_path, '/');
  int dl = slash ? (int)(slash - m->state_path) : 1;
  snprintf(out, cap, "%.*s/container.pid", dl, slash ? m->state_path : ".");
}

/* Drains what the failed runtime wrote to the container's stderr pipe into the error text. */
static void drain_error(struct mon *m, const char *what) {
  char tmp[400] = "";
  size_t len = 0;
  if (m->err.fd >= 0) {
    ssize_t r;
    while (len + 1 < sizeof tmp && (r = read(m->err.fd, tmp + len, sizeof tmp - 1 - len)) > 0) len += (size_t)r;
  }
  tmp[len] = 0;
  while (len > 0 && (tmp[len - 1] == '\n' || tmp[len - 1] == ' ')) tmp[--len] = 0;
  snprintf(m->st.error, sizeof m->st.error, "%s %s failed%s%s", m->runtime, what, len ? ": " : "", tmp);
}

static void close_streams(struct mon *m) {
  if (m->out.fd >= 0) close(m->out.fd);
  if (m->err.fd >= 0) close(m->err.fd);
  m->out.fd = m->err.fd = -1;
}

/* tsstack-runtime creates and starts in one exec (`run --detach`): one process, one state load and one
 * exec per container fewer in an `up`. Other runtimes (runc, crun) keep create, then start; so does a
 * terminal, whose console socket is answered between the two. */
static bool one_exec(const struct mon *m) {
  const char *b = strrchr(m->runtime, '/');
  return !m->tty && !strcmp(b ? b + 1 : m->runtime, "tsstack-runtime");
}

int mon_container_start(struct mon *m) {
  char pidfile[4200];
  char errbuf[400];
  cpid_path(m, pidfile, sizeof pidfile);
  unlink(pidfile);
  m->st.error[0] = 0;
  int child_in = -1, child_out = -1, child_err = -1;
  if (mon_stdio_prepare(m, &child_in, &child_out, &child_err) < 0) {
    snprintf(m->st.error, sizeof m->st.error, "cannot set up the container's stdio: %s", strerror(errno));
    return -1;
  }
  char *create[12];
  int n = 0;
  bool one = one_exec(m);
  create[n++] = one ? "run" : "create";
  if (one) create[n++] = "--detach";
  create[n++] = "--bundle";
  create[n++] = (char *)m->bundle;
  create[n++] = "--pid-file";
  create[n++] = pidfile;
  if (m->tty) { create[n++] = "--console-socket"; create[n++] = m->console_path; }
  create[n++] = (char *)m->id;
  create[n] = NULL;
  pid_t pid = mon_runtime_spawn(m, create, child_in, child_out, child_err);
  if (child_in >= 0) close(child_in);
  if (child_out >= 0) close(child_out);
  if (child_err >= 0) close(child_err);
  int status = -1;
  if (pid > 0)
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (m->err.fd >= 0) mon_set_nonblock(m->err.fd);
    drain_error(m, "create");
    close_streams(m);
    if (m->console_listen >= 0) { close(m->console_listen); m->console_listen = -1; unlink(m->console_path); }
    return -1;
  }
  if (mon_stdio_after_create(m) < 0) {
    snprintf(m->st.error, sizeof m->st.error, "no terminal received from the runtime on %.400s", m->console_path);
    mon_container_delete(m, true);
    close_streams(m);
    return -1;
  }
  long cpid = mon_read_long(pidfile);
  if (cpid <= 0) {
    snprintf(m->st.error, sizeof m->st.error, "%.100s create wrote no pid to %.300s", m->runtime, pidfile);
    mon_container_delete(m, true);
    close_streams(m);
    return -1;
  }
  m->st.pid = (pid_t)cpid;
  mon_oom_locate(m); /* (after run: the exited container is a zombie until the main loop reaps it; its cgroup reads the same) */
  char *start[] = { "start", (char *)m->id, NULL };
  if (!one && mon_runtime_run(m, start, errbuf, sizeof errbuf) != 0) {
    snprintf(m->st.error, sizeof m->st.error, "%s start failed: %s", m->runtime, errbuf);
    mon_container_delete(m, true);
    close_streams(m);
    m->st.pid = 0;
    return -1;
  }
  m->started_mono = mon_now_ms();
  mon_rfc3339(m->st.started_at);
  m->st.finished_at[0] = 0;
  m->st.status = "running";
  m->st.exit_code = 0;
  m->st.signal = 0;
  m->st.oom_killed = false;
  return 0;
}

void mon_container_delete(struct mon *m, bool force) {
  char *del[] = { "delete", force ? "--force" : (char *)m->id, force ? (char *)m->id : NULL, NULL };
  mon_runtime_run(m, del, NULL, 0);
}
