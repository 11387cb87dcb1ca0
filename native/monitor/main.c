/* tsstack-monitor: supervises one container (the role of conmon).
 *
 *   tsstack-monitor --runtime BIN [--runtime-root DIR] --id ID --bundle DIR
 *       --state FILE --log FILE [--log-max-size BYTES] [--log-max-files N]
 *       [--socket PATH] [--pid-file PATH] [--tty] [--stdin-open] [--restart POLICY]
 *       [--stop-signal SIG] [--stop-timeout MS]
 *       [--health-cmd ARG]... [--health-interval MS] [--health-timeout MS]
 *       [--health-retries N] [--health-start-period MS] [--health-start-interval MS]
 *
 * The process the caller starts waits until the container has started (or
 * failed), prints the monitor's pid (or the error on stderr) and exits 0 (1);
 * the monitor itself runs detached (new session, double fork), as a child
 * subreaper, until the container has exited for good. SIGTERM/SIGINT to the
 * monitor = "stop the container" with the configured grace period. */
#include "mon.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static struct mon M;

static void usage_exit(const char *msg) {
  fprintf(stderr, "tsstack-monitor: %s\n", msg);
  exit(2);
}

static long long num(const char *s, const char *what) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (*end || v < 0) {
    fprintf(stderr, "tsstack-monitor: %s must be a non-negative integer, got \"%s\"\n", what, s);
    exit(2);
  }
  return v;
}

static void parse_args(struct mon *m, int argc, char **argv) {
  enum { O_RUNTIME = 1, O_RROOT, O_ID, O_BUNDLE, O_STATE, O_LOG, O_LOGSIZE, O_LOGFILES, O_SOCKET, O_PIDFILE,
         O_TTY, O_STDIN_OPEN, O_RESTART, O_STOPSIG, O_STOPTIMEOUT, O_HCMD, O_HINT, O_HTIMEOUT, O_HRETRIES, O_HSTART, O_HSTARTINT };
  static const struct option opts[] = {
    {"runtime", 1, 0, O_RUNTIME}, {"runtime-root", 1, 0, O_RROOT}, {"id", 1, 0, O_ID},
    {"bundle", 1, 0, O_BUNDLE}, {"state", 1, 0, O_STATE}, {"log", 1, 0, O_LOG},
    {"log-max-size", 1, 0, O_LOGSIZE}, {"log-max-files", 1, 0, O_LOGFILES}, {"socket", 1, 0, O_SOCKET},
    {"pid-file", 1, 0, O_PIDFILE}, {"tty", 0, 0, O_TTY}, {"stdin-open", 0, 0, O_STDIN_OPEN}, {"restart", 1, 0, O_RESTART},
    {"stop-signal", 1, 0, O_STOPSIG}, {"stop-timeout", 1, 0, O_STOPTIMEOUT}, {"health-cmd", 1, 0, O_HCMD},
    {"health-interval", 1, 0, O_HINT}, {"health-timeout", 1, 0, O_HTIMEOUT}, {"health-retries", 1, 0, O_HRETRIES},
    {"health-start-period", 1, 0, O_HSTART}, {"health-start-interval", 1, 0, O_HSTARTINT}, {0, 0, 0, 0},
  };
  m->stop_signal = SIGTERM;
  m->stop_timeout_ms = 10000;
  m->log.max_size = 10 * 1024 * 1024;
  m->log.max_files = 3;
  m->health.interval_ms = 30000;
  m->health.timeout_ms = 30000;
  m->health.retries = 3;
  mon_restart_parse(&m->restart, "no");
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case O_RUNTIME: m->runtime = optarg; break;
      case O_RROOT: m->runtime_root = optarg; break;
      case O_ID: m->id = optarg; break;
      case O_BUNDLE: m->bundle = optarg; break;
      case O_STATE: m->state_path = optarg; break;
      case O_LOG: snprintf(m->log.path, sizeof m->log.path, "%s", optarg); break;
      case O_LOGSIZE: m->log.max_size = num(optarg, "--log-max-size"); break;
      case O_LOGFILES: m->log.max_files = (int)num(optarg, "--log-max-files"); break;
      case O_SOCKET: m->socket_path = optarg; break;
      case O_PIDFILE: m->pid_path = optarg; break;
      case O_TTY: m->tty = true; break;
      case O_STDIN_OPEN: m->stdin_open = true; break;
      case O_RESTART:
        if (mon_restart_parse(&m->restart, optarg) < 0) {
          fprintf(stderr, "tsstack-monitor: unknown restart policy \"%s\" (no, always, on-failure[:N], unless-stopped)\n", optarg);
          exit(2);
        }
        break;
      case O_STOPSIG:
        if ((m->stop_signal = mon_parse_signal(optarg)) < 0) {
          fprintf(stderr, "tsstack-monitor: unknown stop signal \"%s\"\n", optarg);
          exit(2);
        }
        break;
      case O_STOPTIMEOUT: m->stop_timeout_ms = num(optarg, "--stop-timeout"); break;
      case O_HCMD:
        if (m->health.argc >= MON_MAX_HEALTH_ARGS) usage_exit("too many --health-cmd arguments");
        m->health.argv[m->health.argc++] = optarg;
        m->health.enabled = true;
        break;
      case O_HINT: m->health.interval_ms = num(optarg, "--health-interval"); break;
      case O_HTIMEOUT: m->health.timeout_ms = num(optarg, "--health-timeout"); break;
      case O_HRETRIES: m->health.retries = (int)num(optarg, "--health-retries"); break;
      case O_HSTART: m->health.start_period_ms = num(optarg, "--health-start-period"); break;
      case O_HSTARTINT: m->health.start_interval_ms = num(optarg, "--health-start-interval"); break;
      default: usage_exit("unknown option (see the header of native/monitor/main.c)");
    }
  }
  if (!m->runtime || !m->id || !m->bundle || !m->state_path || !m->log.path[0])
    usage_exit("--runtime, --id, --bundle, --state and --log are required");
  /* A safety net, not the source of the defaults: tsstack sets Docker's (src/model/healthcheck.ts) and
   * passes every non-zero value. What lands here is a 0 written in a stack file, which Docker reads as
   * "the default", and a monitor started by hand. Keep these equal to HEALTH_DEFAULTS. */
  if (m->health.interval_ms <= 0) m->health.interval_ms = 30000;
  if (m->health.timeout_ms <= 0) m->health.timeout_ms = 30000;
  if (m->health.retries <= 0) m->health.retries = 3;
  const char *slash = strrchr(m->state_path, '/');
  int dl = slash ? (int)(slash - m->state_path) : 1;
  const char *dir = slash ? m->state_path : ".";
  /* the console socket sits beside the control socket when there is one: run paths are short (sun_path is 108 bytes) */
  const char *cs = m->socket_path ? strrchr(m->socket_path, '/') : NULL;
  if (cs) snprintf(m->console_path, sizeof m->console_path, "%.*s/console.sock", (int)(cs - m->socket_path), m->socket_path);
  else snprintf(m->console_path, sizeof m->console_path, "%.*s/console.sock", dl, dir);
  m->state_dir_len = dl;
}

void mon_request_stop(struct mon *m, int64_t timeout_ms) {
  m->stop_requested = true;
  mon_health_cancel(m);
  if (m->restart_at) {
    /* waiting to restart: the container is not running, so stopping is immediate */
    m->restart_at = 0;
    return;
  }
  if (m->st.pid > 0 && !strcmp(m->st.status, "running")) {
    if (timeout_ms == 0) { kill(m->st.pid, SIGKILL); return; }
    kill(m->st.pid, m->stop_signal);
    int64_t at = mon_now_ms() + timeout_ms;
    if (!m->kill_at || at < m->kill_at) m->kill_at = at;
  }
}

/* Reads at most max_reads chunks (0 = until EAGAIN/EOF), so a chatty container cannot starve signals and timers. */
static void drain(struct mon *m, struct mon_stream *s, int max_reads) {
  char buf[4096];
  for (int i = 0; s->fd >= 0 && (max_reads == 0 || i < max_reads); i++) {
    ssize_t r = read(s->fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) { /* EOF, or EIO from a pty whose slave side is closed */
      mon_stream_flush(&m->log, s);
      close(s->fd);
      s->fd = -1;
      return;
    }
    mon_stream_feed(&m->log, s, buf, (size_t)r);
  }
}

static bool finished; /* the container exited for good: leave the loop */

static void on_container_exit(struct mon *m, int status) {
  m->st.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  m->st.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  mon_rfc3339(m->st.finished_at);
  /* every process of the pid namespace is gone before its init is reaped: the pipes are at EOF */
  drain(m, &m->out, 0);
  drain(m, &m->err, 0);
  mon_stream_flush(&m->log, &m->out);
  mon_stream_flush(&m->log, &m->err);
  if (m->out.fd >= 0) { close(m->out.fd); m->out.fd = -1; }
  if (m->err.fd >= 0) { close(m->err.fd); m->err.fd = -1; }
  m->st.oom_killed = mon_oom_check(m);
  m->kill_at = 0;
  mon_health_cancel(m);
  mon_container_delete(m, false);
  m->st.pid = 0;
  int64_t ran = mon_now_ms() - m->started_mono;
  if (mon_restart_should(&m->restart, m->st.exit_code, m->st.restart_count, m->stop_requested)) {
    m->st.status = "restarting";
    m->restart_at = mon_now_ms() + mon_restart_backoff(&m->restart, ran);
  } else {
    m->st.status = "exited";
    finished = true;
  }
  mon_state_write(m);
}

static void reap(struct mon *m) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == m->st.pid && m->st.pid > 0) on_container_exit(m, status);
    else mon_health_reaped(m, pid, status);
  }
}

static void do_restart(struct mon *m) {
  m->restart_at = 0;
  m->st.restart_count++;
  mon_container_delete(m, true); /* a leftover of the last run must not block create */
  if (mon_container_start(m) < 0) {
    /* a failed restart is a failed run: back off and try again under the same policy */
    m->st.exit_code = 128;
    if (mon_restart_should(&m->restart, 1, m->st.restart_count, m->stop_requested)) {
      m->st.status = "restarting";
      m->restart_at = mon_now_ms() + mon_restart_backoff(&m->restart, 0);
    } else {
      m->st.status = "exited";
      finished = true;
    }
  } else {
    mon_health_schedule_first(m);
  }
  mon_state_write(m);
}

/* Detach: the caller's process waits on `sync` for "ok" or an error line. */
static int detach(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) { perror("tsstack-monitor: pipe"); exit(1); }
  pid_t pid = fork();
  if (pid < 0) { perror("tsstack-monitor: fork"); exit(1); }
  if (pid > 0) {
    close(p[1]);
    char msg[1024];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof msg - 1 && ((r = read(p[0], msg + len, sizeof msg - 1 - len)) > 0 || (r < 0 && errno == EINTR)))
      if (r > 0) len += (size_t)r;
    msg[len] = 0;
    waitpid(pid, NULL, 0);
    if (!strncmp(msg, "ok ", 3)) { fputs(msg + 3, stdout); exit(0); }
    fputs(len ? msg : "tsstack-monitor: the monitor died while starting the container\n", stderr);
    exit(1);
  }
  close(p[0]);
  if (setsid() < 0) _exit(1);
  pid = fork();
  if (pid < 0) _exit(1);
  if (pid > 0) _exit(0);
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  if (null > 2) close(null);
  return p[1];
}

int main(int argc, char **argv) {
  /* Nothing of the command that started us: a monitor that kept an fd it inherited (a lock a
     `flock … tsstack up` passed down, the engine's netlink socket) would hold it as long as its container runs. */
  mon_close_from(3);
  struct mon *m = &M;
  /* tsstack-guard runs this when the monitor has died (guard.c) */
  bool cleanup = argc > 1 && !strcmp(argv[1], "--guard-cleanup");
  if (cleanup) { argc--; argv++; prctl(PR_SET_NAME, "tsstack-guard"); }
  m->argc = argc;
  m->argv = argv;
  parse_args(m, argc, argv);
  m->out = (struct mon_stream){ .name = "stdout", .fd = -1 };
  m->err = (struct mon_stream){ .name = "stderr", .fd = -1 };
  m->console_listen = m->ctl_fd = m->guard_fd = m->health.out_fd = m->stdin_w = -1;
  m->st.status = "created";
  m->health.status = "starting";
  if (cleanup) {
    mon_guard_cleanup(m);
    return 0;
  }

  int sync = detach();
  /* per monitor: a newer monitor of the same container must not lose its probe's pid file to our exit */
  snprintf(m->health.pid_base, sizeof m->health.pid_base, "%.*s/health-%d", m->state_dir_len,
           strrchr(m->state_path, '/') ? m->state_path : ".", (int)getpid());
  char line[700];
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_NAME, "tsstack-mon");
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGQUIT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  m->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

  if (m->pid_path) {
    int fd = open(m->pid_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0) { dprintf(fd, "%d\n", (int)getpid()); close(fd); }
  }
  if (mon_log_open(&m->log) < 0) {
    snprintf(line, sizeof line, "tsstack-monitor: cannot open the log %.500s: %s\n", m->log.path, strerror(errno));
    mon_write_all(sync, line, strlen(line));
    return 1;
  }
  if (mon_ctl_listen(m) < 0) {
    snprintf(line, sizeof line, "tsstack-monitor: cannot listen on %s: %s\n", m->socket_path, strerror(errno));
    mon_write_all(sync, line, strlen(line));
    return 1;
  }
  if (mon_guard_start(m) < 0) {
    snprintf(line, sizeof line, "tsstack-monitor: cannot fork the guard: %s\n", strerror(errno));
    mon_write_all(sync, line, strlen(line));
    return 1;
  }
  if (mon_container_start(m) < 0) {
    m->st.status = "exited";
    m->st.exit_code = 128;
    mon_state_write(m);
    snprintf(line, sizeof line, "tsstack-monitor: %.600s\n", m->st.error);
    mon_write_all(sync, line, strlen(line));
    mon_guard_release(m);
    mon_ctl_close(m);
    return 1;
  }
  mon_health_schedule_first(m);
  mon_state_write(m);
  snprintf(line, sizeof line, "ok %d\n", (int)getpid());
  mon_write_all(sync, line, strlen(line));
  close(sync);

  while (!finished) {
    int64_t now = mon_now_ms();
    int64_t due = -1;
    int64_t cands[4] = { m->kill_at, m->restart_at, m->health.pid ? m->health.deadline : m->health.next_at, mon_ctl_next_deadline(m) };
    for (int i = 0; i < 4; i++)
      if (cands[i] > 0 && (due < 0 || cands[i] < due)) due = cands[i];
    int timeout = due < 0 ? -1 : (due <= now ? 0 : (int)(due - now));

    struct pollfd p[5 + MON_CTL_CLIENTS];
    int n = 0;
    p[n++] = (struct pollfd){ .fd = m->sig_fd, .events = POLLIN };
    p[n++] = (struct pollfd){ .fd = m->out.fd, .events = POLLIN };
    p[n++] = (struct pollfd){ .fd = m->err.fd, .events = POLLIN };
    p[n++] = (struct pollfd){ .fd = m->ctl_fd, .events = POLLIN };
    p[n++] = (struct pollfd){ .fd = m->health.out_fd, .events = POLLIN };
    int nctl = mon_ctl_pollfds(m, p + n);
    n += nctl;
    if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR) break;

    if (p[1].revents) drain(m, &m->out, 16);
    if (p[2].revents) drain(m, &m->err, 16);
    if (p[4].revents && m->health.out_fd >= 0) mon_health_readable(m);
    if (p[0].revents) {
      struct signalfd_siginfo si;
      while (read(m->sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) reap(m);
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT) mon_request_stop(m, m->stop_timeout_ms);
      }
      reap(m); /* signals coalesce: always look once more */
    }
    now = mon_now_ms();
    mon_ctl_serve(m, p + 5, nctl, now);
    if (p[3].revents && m->ctl_fd >= 0) mon_ctl_accept(m);

    if (m->kill_at && now >= m->kill_at) {
      m->kill_at = 0;
      if (m->st.pid > 0) kill(m->st.pid, SIGKILL);
    }
    if (m->restart_at && now >= m->restart_at) do_restart(m);
    if (!m->restart_at && m->stop_requested && strcmp(m->st.status, "running") && strcmp(m->st.status, "created")) {
      if (!finished) { m->st.status = "exited"; finished = true; mon_state_write(m); }
    }
    mon_health_tick(m, now);
  }

  mon_ctl_close(m);
  mon_health_cancel(m);
  mon_guard_release(m);
  if (m->pid_path) {
    /* only our own pid file: a newer monitor may have written it */
    if (mon_read_long(m->pid_path) == (long)getpid()) unlink(m->pid_path);
  }
  return 0;
}
