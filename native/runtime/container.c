#include "container.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include "bypass.h"
#include "cgroups.h"
#include "console.h"
#include "hooks.h"
#include "mounts.h"
#include "namespaces.h"
#include "process.h"
#include "spawn.h"
#include "sysctl.h"

struct child_ctx {
  const struct spec *s;
  const struct create_opts *o;
  int sync, fifo, console;
  const struct cg_dirs *cg;
  struct ns_joins joins;
  bool new_user;     /* a new user namespace: wait for the parent's maps first */
  bool placed;
  char *state_json;  /* sent with the go-ahead, for the container-side hooks */
};

/* Fail fast in the container child: one line to the parent, then exit. */
static _Noreturn void bail(int sync, const err_t *e) {
  char line[1100];
  int n = snprintf(line, sizeof line, "E%s", e->msg);
  if (send(sync, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1), MSG_NOSIGNAL) < 0) {}
  _exit(1);
}

/* The parent finishes placement (hooks, a fallback cgroup.procs write) while
 * the child sets up its mounts. This joins the two: it blocks until the
 * parent's go-ahead, then roots a new cgroup namespace there. Called before
 * the first cgroup mount, or at the latest before the process's limits
 * matter. Idempotent. */
static int cgroup_ready(void *ctx, err_t *e) {
  struct child_ctx *c = ctx;
  if (c->placed) return 0;
  static char msg[1 << 16];
  ssize_t n = recv(c->sync, msg, sizeof msg - 1, 0);
  if (n < 1 || msg[0] != 'g') _exit(1); /* the parent died or refused */
  msg[n] = 0;
  c->state_json = msg + 1;
  c->placed = true;
  const struct ns_spec *cg = spec_ns(c->s, CLONE_NEWCGROUP);
  if (cg && !cg->path && unshare(CLONE_NEWCGROUP) < 0) return ts_failerr(e, "cannot create a cgroup namespace");
  return 0;
}

static _Noreturn void init_child(struct child_ctx *c) {
  err_t e = {{0}};
  const struct spec *s = c->s;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (!c->cg->fake && cg_enter_self_v1(c->cg, &e) < 0) bail(c->sync, &e);
  if (c->new_user) {
    /* The parent writes the maps, then says `u`: nothing here may make a file before that. */
    char m = 0;
    ssize_t n;
    do n = recv(c->sync, &m, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n != 1 || m != 'u') _exit(1);
    if (ns_become_root(s, &e) < 0) bail(c->sync, &e);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a change of credentials cleared it */
  }
  if (ns_enter_joins(&c->joins, &e) < 0) bail(c->sync, &e);
  int portd = -1;
  if (bypass_open(s, &portd, &e) < 0) bail(c->sync, &e);
  if (s->proc.has_oom_score_adj) {
    char v[16];
    snprintf(v, sizeof v, "%d", s->proc.oom_score_adj);
    if (ts_write_existing("/proc/self/oom_score_adj", v, &e) < 0) bail(c->sync, &e);
  }
  if (setsid() < 0) {
    ts_failerr(&e, "setsid");
    bail(c->sync, &e);
  }
  if (spec_has_ns(s, CLONE_NEWNS)) {
    if (mounts_prepare(s, c->cg, cgroup_ready, c, &e) < 0 || cgroup_ready(c, &e) < 0) bail(c->sync, &e);
    if (hooks_run(s, HOOK_CREATE_CONTAINER, c->state_json, &e) < 0) bail(c->sync, &e);
    if (mounts_pivot(s, c->o->no_pivot, &e) < 0 || mounts_finalize(s, &e) < 0) bail(c->sync, &e);
  } else if (chroot(s->root) < 0 || chdir("/") < 0) {
    ts_failerr(&e, "cannot chroot into %s", s->root);
    bail(c->sync, &e);
  }
  if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
    ts_failerr(&e, "cannot set hostname \"%s\"", s->hostname);
    bail(c->sync, &e);
  }
  if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0) {
    ts_failerr(&e, "cannot set domainname \"%s\"", s->domainname);
    bail(c->sync, &e);
  }
  if (c->console >= 0) {
    if (console_setup(c->console, s->proc.console_rows, s->proc.console_cols, spec_has_ns(s, CLONE_NEWNS), &e) < 0) bail(c->sync, &e);
    close(c->console);
  }
  if (cgroup_ready(c, &e) < 0) bail(c->sync, &e);
  if (proc_apply_rlimits(&s->proc, &e) < 0) bail(c->sync, &e);
  char **env = proc_env(&s->proc);
  char *exe = NULL;
  if (proc_find_exe(&s->proc, env, &exe, &e) < 0) bail(c->sync, &e);
  if (chdir(s->proc.cwd) < 0) {
    if (ts_mkdir_p(s->proc.cwd, 0755, &e) < 0 || chdir(s->proc.cwd) < 0) {
      ts_failerr(&e, "cannot change to process.cwd %s", s->proc.cwd);
      bail(c->sync, &e);
    }
  }
  /* while the capabilities of the namespace's root last: the filter needs no no_new_privs then */
  if (portd >= 0 && bypass_install(portd, s, &e) < 0) bail(c->sync, &e);
  bool early = proc_seccomp_early(&s->proc, s->seccomp);
  if (early && seccomp_install(s->seccomp, &e) < 0) bail(c->sync, &e);
  if (proc_apply_identity(&s->proc, &e) < 0) bail(c->sync, &e);
  /* Only stdio and preserved fds reach the process. */
  syscall(SYS_close_range, 3 + c->o->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
  /* Outlive the create command from here on (before telling it we are ready). */
  prctl(PR_SET_PDEATHSIG, 0);
  if (send(c->sync, "K", 1, MSG_NOSIGNAL) != 1) _exit(1);
  close(c->sync);
  /* Wait for `start`: a writer opens exec.fifo and writes one byte. A fifo that
   * never had a writer polls as idle, so this blocks until then. */
  struct pollfd p = {.fd = c->fifo, .events = POLLIN};
  for (;;) {
    int r = poll(&p, 1, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) _exit(1);
    char b;
    if (read(c->fifo, &b, 1) == 1) break;
    if (p.revents & POLLHUP) _exit(1);  /* a writer came and went without starting us */
  }
  close(c->fifo);
  if (hooks_run(s, HOOK_START_CONTAINER, c->state_json, &e) < 0) {
    dprintf(2, "tsstack-runtime: %s\n", e.msg);
    _exit(1);
  }
  proc_exec(&s->proc, exe, env, early ? NULL : s->seccomp, &e);
  dprintf(2, "tsstack-runtime: %s\n", e.msg);
  _exit(127);
}

/* Placement the child did not get at birth: a fake v2 root's files, or the v2
 * leaf when clone3 was refused. The v1 leaves the child joins itself. */
static int place_rest(const struct cg_dirs *cg, pid_t pid, bool placed_v2, err_t *e) {
  if (cg->fake) return cg_enter(cg, pid, e);
  const char *leaf = cg_v2_leaf(cg);
  if (!leaf || placed_v2) return 0;
  char v[32];
  snprintf(v, sizeof v, "%d", (int)pid);
  _cleanup_free_ char *f = ts_xasprintf("%s/cgroup.procs", leaf);
  return ts_write_existing(f, v, e);
}

static bool has_limits(const struct resources *r) {
  return r->has_mem_limit || r->has_mem_swap || r->has_mem_reservation || r->has_swappiness || r->has_cpu_shares ||
         r->has_cpu_quota || r->has_cpu_period || r->cpus || r->mems || r->has_pids;
}

/* Run by an ordinary user or in a user namespace (rootless) the cgroup tree is usually not ours to write:
 * without a delegated subtree, as runc's rootless mode does, a container that
 * asks for no limit stays in the runtime's own cgroup; one that does is refused
 * saying why (device rules are moot there: the kernel refuses mknod anyway). */
static bool cgroup_optional(const struct spec *s, err_t *e) {
  if (errno != EACCES && errno != EPERM && errno != EROFS) return false;
  if (!ns_in_user_ns() && geteuid() == 0) return false;
  if (has_limits(&s->res)) {
    char why[sizeof e->msg];
    snprintf(why, sizeof why, "%s", e->msg);
    ts_fail(e, "%s: resource limits need a cgroup v2 subtree delegated to this user (systemd: run from your user session, or `systemd-run --user --scope -p Delegate=yes`); without one, drop linux.resources limits", why);
    return false;
  }
  return true;
}

static int write_pid_file(const char *path, pid_t pid, err_t *e) {
  char v[32];
  int n = snprintf(v, sizeof v, "%d", (int)pid);
  return ts_write_atomic(path, v, (size_t)n, e);
}

int container_create(const struct create_opts *o, struct spec *s, struct cstate *st, int *master, err_t *e) {
  if (valid_id(o->id, e) < 0) return -1;
  if (!s->has_process) return ts_fail(e, "%s/config.json: \"process\" is required to create a container", s->bundle);
  if ((s->hostname || s->domainname) && (!spec_ns(s, CLONE_NEWUTS) || spec_ns(s, CLONE_NEWUTS)->path))
    return ts_fail(e, "%s/config.json: hostname needs a new uts namespace (add {\"type\":\"uts\"} to linux.namespaces)", s->bundle);
  if (sysctl_check(s, e) < 0) return -1;
  if (s->proc.terminal && !o->console_socket && !o->own_console)
    return ts_fail(e, "process.terminal is true: pass --console-socket to receive the pty master");
  if (!s->proc.terminal && o->console_socket) return ts_fail(e, "--console-socket given but process.terminal is false");
  if (ts_mkdir_p(rt_root, 0711, e) < 0) return -1;
  _cleanup_free_ char *dir = state_dir(o->id);
  if (mkdir(dir, 0711) < 0) {
    if (errno == EEXIST) return ts_fail(e, "container with id \"%s\" already exists", o->id);
    return ts_failerr(e, "cannot create %s", dir);
  }
  memset(st, 0, sizeof *st);
  st->id = ts_xstrdup(o->id);
  st->bundle = ts_xstrdup(s->bundle);
  st->rootfs = ts_xstrdup(s->root);
  st->created = now_rfc3339();
  st->oci_version = ts_xstrdup(s->oci_version);
  st->creating = true;
  st->annotations = s->annotations;
  st->poststart = s->n_hooks[HOOK_POSTSTART] > 0;
  st->poststop = s->n_hooks[HOOK_POSTSTOP] > 0;
  int sp[2] = {-1, -1}, console = -1, own[2] = {-1, -1}, fifo = -1;
  pid_t pid = -1;
  struct child_ctx c = {.s = s, .o = o, .console = -1};
  _cleanup_free_ char *fifo_path = state_fifo(o->id);
  _cleanup_free_ char *cgpath = s->cgroups_path ? ts_xstrdup(s->cgroups_path) : ts_xasprintf("/%s", o->id);
  if (state_save(st, e) < 0) goto fail;
  if (mkfifo(fifo_path, 0600) < 0) {
    ts_failerr(e, "cannot create %s", fifo_path);
    goto fail;
  }
  fifo = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fifo < 0) {
    ts_failerr(e, "cannot open %s", fifo_path);
    goto fail;
  }
  if (cg_create(cgpath, &s->res, &st->cg, e) < 0) {
    if (!cgroup_optional(s, e)) goto fail;
    memset(&st->cg, 0, sizeof st->cg); /* none: the runtime's own cgroup */
  }
  /* Record the cgroups now: if this process dies mid-create, `delete --force` still finds them. */
  if (state_save(st, e) < 0) goto fail;
  if (o->console_socket && (console = console_connect(o->console_socket, e)) < 0) goto fail;
  if (s->proc.terminal && o->own_console) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, own) < 0) {
      ts_failerr(e, "socketpair");
      goto fail;
    }
    console = own[1];
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
    ts_failerr(e, "socketpair");
    goto fail;
  }
  int clone_flags = ns_clone_flags(s);
  if (ns_open_joins(s, &c.joins, e) < 0) goto fail;
  c.sync = sp[1];
  c.cg = &st->cg;
  c.fifo = fifo;
  c.console = console;
  bool placed_v2 = false;
  c.new_user = (clone_flags & CLONE_NEWUSER) != 0;
  struct ns_saved saved = {.n = 0};
  if (c.new_user && ns_parent_join(&c.joins, &saved, e) < 0) {
    err_t ignored;
    if (ns_parent_restore(&saved, &ignored) < 0) _exit(1);
    goto fail;
  }
  pid = spawn_in_cgroup(clone_flags, &st->cg, &placed_v2);
  int clone_errno = errno;
  if (pid == 0) {
    close(sp[0]);
    init_child(&c);
  }
  if (ns_parent_restore(&saved, e) < 0) {
    dprintf(2, "tsstack-runtime: %s\n", e->msg);
    if (pid > 0) kill(pid, SIGKILL);
    _exit(1); /* never go on in the container's namespaces */
  }
  if (pid < 0) {
    errno = clone_errno;
    if (c.new_user && (errno == EPERM || errno == EACCES || errno == ENOSPC))
      ts_failerr(e, "cannot clone the container process into a new user namespace (user.max_user_namespaces, kernel.unprivileged_userns_clone, AppArmor or SELinux may forbid it)");
    else
      ts_failerr(e, "cannot clone the container process");
    goto fail;
  }
  close(sp[1]), sp[1] = -1;
  if (c.new_user) {
    if (ns_write_id_maps(s, pid, e) < 0) goto fail;
    if (send(sp[0], "u", 1, MSG_NOSIGNAL) != 1) {
      ts_fail(e, "the container process died before its user namespace was mapped");
      goto fail;
    }
  }
  ns_close_joins(&c.joins);
  if (console >= 0 && console != own[1]) close(console);
  if (own[1] >= 0) close(own[1]), own[1] = -1;
  console = -1;
  if (place_rest(&st->cg, pid, placed_v2, e) < 0) {
    /* A child that already failed cannot be placed: its own error says why. */
    char early[1200];
    ssize_t n = recv(sp[0], early, sizeof early - 1, MSG_DONTWAIT);
    if (n > 1 && early[0] == 'E') {
      early[n] = 0;
      ts_fail(e, "%s", early + 1);
    }
    goto fail;
  }
  st->pid = pid;
  st->start_time = proc_start_time(pid);
  jbuf go = {0};
  jb_puts(&go, "g");
  state_render(st, &go, "");
  if (hooks_run(s, HOOK_PRESTART, go.p + 1, e) < 0 || hooks_run(s, HOOK_CREATE_RUNTIME, go.p + 1, e) < 0) {
    jb_free(&go);
    goto fail;
  }
  /* If the child already failed, its error line is waiting in the socket. */
  if (send(sp[0], go.p, go.len, MSG_NOSIGNAL) < 0) {}
  jb_free(&go);
  char reply[1200];
  ssize_t r;
  do r = recv(sp[0], reply, sizeof reply - 1, 0);
  while (r < 0 && errno == EINTR);
  if (r <= 0) {
    ts_fail(e, "the container process died during setup");
    goto fail;
  }
  reply[r] = 0;
  if (reply[0] == 'E') {
    ts_fail(e, "%s", reply + 1);
    goto fail;
  }
  close(sp[0]), sp[0] = -1;
  close(fifo), fifo = -1;
  if (own[0] >= 0) {
    if ((*master = console_recv_fd(own[0], e)) < 0) goto fail;
    close(own[0]), own[0] = -1;
  }
  st->creating = false;
  if (state_save(st, e) < 0) goto fail;
  if (o->pid_file && write_pid_file(o->pid_file, pid, e) < 0) goto fail;
  return 0;
fail:;
  err_t ignored;
  if (pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  ns_close_joins(&c.joins);
  if (sp[0] >= 0) close(sp[0]);
  if (sp[1] >= 0) close(sp[1]);
  if (own[0] >= 0) close(own[0]);
  if (own[1] >= 0) close(own[1]);
  else if (console >= 0) close(console);
  if (fifo >= 0) close(fifo);
  cg_destroy(&st->cg, &ignored);
  ts_rm_rf(dir);
  return -1;
}

int container_start(const char *id, err_t *e) {
  struct cstate st;
  if (state_load(id, &st, e) < 0) return -1;
  const char *status = state_status(&st);
  int rc = -1;
  if (strcmp(status, "created")) {
    ts_fail(e, "cannot start container \"%s\": it is %s, not created", id, status);
    goto out;
  }
  _cleanup_free_ char *fifo = state_fifo(id);
  int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ts_failerr(e, "cannot start container \"%s\" (its init is not waiting on %s)", id, fifo);
    goto out;
  }
  if (write(fd, "0", 1) != 1) {
    ts_failerr(e, "cannot start container \"%s\"", id);
    close(fd);
    goto out;
  }
  close(fd);
  unlink(fifo);
  rc = 0;
  /* poststart failures are warnings: the container runs on. */
  struct spec s;
  err_t he;
  if (st.poststart && spec_load(st.bundle, &s, &he) == 0) {
    jbuf sj = {0};
    state_render_as(&st, &sj, "", "running");  /* it may be gone already: hooks see their moment */
    if (hooks_run(&s, HOOK_POSTSTART, sj.p, &he) < 0) fprintf(stderr, "tsstack-runtime start: warning: %s\n", he.msg);
    jb_free(&sj);
  }
out:
  state_free(&st);
  return rc;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

void container_kill_all(struct cstate *st) {
  bool frozen = cg_frozen(&st->cg);
  for (int round = 0; round < 500; round++) {
    bool any = false;
    if (state_alive(st)) {
      kill(st->pid, SIGKILL);
      any = true;
    }
    pid_t *pids = NULL;
    size_t n = 0;
    err_t ignored;
    if (!st->cg.fake && cg_pids(&st->cg, &pids, &n, &ignored) == 0)
      for (size_t i = 0; i < n; i++) {
        if (kill(pids[i], SIGKILL) == 0) any = true;
      }
    free(pids);
    if (!any) return;
    if (frozen) { /* frozen tasks die only once thawed */
      err_t ignored;
      cg_freeze(&st->cg, false, &ignored);
      frozen = false;
    }
    /* Reap it when it is our own child (foreground run). */
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    sleep_ms(10);
  }
}

int container_destroy(struct cstate *st, err_t *e) {
  container_kill_all(st);
  int rc = cg_destroy(&st->cg, e);
  /* poststop hooks: from the bundle, if it is still there; failures are warnings. */
  struct spec s;
  err_t he;
  if (st->poststop && spec_load(st->bundle, &s, &he) == 0) {
    jbuf sj = {0};
    state_render_as(st, &sj, "", "stopped");
    if (hooks_run(&s, HOOK_POSTSTOP, sj.p, &he) < 0) fprintf(stderr, "tsstack-runtime: warning: %s\n", he.msg);
    jb_free(&sj);
  }
  _cleanup_free_ char *dir = state_dir(st->id);
  if (ts_rm_rf(dir) < 0 && rc == 0) rc = ts_failerr(e, "cannot remove %s", dir);
  return rc;
}

int parse_signal(const char *s, err_t *e) {
  static const struct { const char *name; int sig; } sigs[] = {
      {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
      {"IOT", SIGIOT}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
      {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
      {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"POLL", SIGPOLL}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
  };
  char *end;
  long n = strtol(s, &end, 10);
  if (*s && !*end) {
    if (n <= 0 || n > TS_SIGRTMAX) return ts_fail(e, "invalid signal number %s", s);
    return (int)n;
  }
  const char *name = strncasecmp(s, "SIG", 3) ? s : s + 3;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (!strcasecmp(name, sigs[i].name)) return sigs[i].sig;
  if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
    long off = name[5] ? strtol(name + 5, NULL, 10) : 0;
    int sig = !strncasecmp(name, "RTMIN", 5) ? TS_SIGRTMIN + (int)off : TS_SIGRTMAX + (int)off;
    if (sig < TS_SIGRTMIN || sig > TS_SIGRTMAX) return ts_fail(e, "invalid signal \"%s\"", s);
    return sig;
  }
  return ts_fail(e, "unknown signal \"%s\"", s);
}
