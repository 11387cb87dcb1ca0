#include "exec.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>
#include "bypass.h"
#include "caps.h"
#include "console.h"
#include "process.h"
#include "spawn.h"
#include "spec.h"
#include "state.h"

static volatile pid_t forward_to;
static volatile int child_done;

static void forward(int sig) {
  if (forward_to > 0) kill(forward_to, sig);
}

static void on_chld(int sig) { child_done = 1; }

int wait_forwarding(pid_t pid, int master) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  struct sigaction sa = {.sa_handler = forward, .sa_flags = SA_RESTART};
  sigemptyset(&sa.sa_mask);
  forward_to = pid;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  if (master >= 0) {
    struct sigaction sc = {.sa_handler = on_chld};
    sigemptyset(&sc.sa_mask);
    sigaction(SIGCHLD, &sc, NULL);
    console_proxy(master, &child_done);
  }
  int status;
  pid_t r;
  do r = waitpid(pid, &status, 0);
  while (r < 0 && errno == EINTR);
  forward_to = 0;
  if (r < 0) return 255;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

static bool same_ns(pid_t pid, const char *name) {
  char a[64], b[64];
  struct stat sa, sb;
  snprintf(a, sizeof a, "/proc/self/ns/%s", name);
  snprintf(b, sizeof b, "/proc/%d/ns/%s", (int)pid, name);
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* The process to run: --process, or config.json's process with the flags
 * applied. *filter is the container's seccomp filter (exec'd processes get it too). */
static int build_process(const struct exec_opts *o, const struct cstate *st, struct process_spec *p, const struct seccomp_prog **filter, const struct spec **bundle, err_t *e) {
  static struct spec s;  /* outlives the call: the child reads its annotations (bypass.c) */
  err_t se;
  bool have_spec = spec_load(st->bundle, &s, &se) == 0;
  *filter = have_spec ? s.seccomp : NULL;
  *bundle = have_spec ? &s : NULL;
  if (o->process_file) {
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (ts_read_file(o->process_file, &text, &len, e) < 0) return -1;
    err_t pe;
    json *doc = json_parse(text, len, &pe);
    if (!doc) return ts_fail(e, "%s: malformed JSON: %s", o->process_file, pe.msg);
    return spec_parse_process(doc, p, o->process_file, e);
  }
  if (!have_spec) return ts_fail(e, "%s", se.msg);
  if (s.has_process) *p = s.proc;
  else {
    memset(p, 0, sizeof *p);
    p->cwd = ts_xstrdup("/");
    p->umask = -1;
  }
  if (!o->argv || !o->argv[0]) return ts_fail(e, "exec: a command is required");
  p->args = o->argv;
  size_t n = 0;
  while (p->env && p->env[n]) n++;
  char **env = ts_xmalloc((n + o->n_env + 1) * sizeof(char *));
  memcpy(env, p->env, n * sizeof(char *));
  for (size_t i = 0; i < o->n_env; i++) {
    const char *eq = strchr(o->env_add[i], '=');
    size_t klen = eq ? (size_t)(eq - o->env_add[i]) : strlen(o->env_add[i]);
    size_t k;
    for (k = 0; k < n; k++)
      if (!strncmp(env[k], o->env_add[i], klen) && env[k][klen] == '=') break;
    env[k] = o->env_add[i];
    if (k == n) n++;
  }
  env[n] = NULL;
  p->env = env;
  if (o->cwd) p->cwd = ts_xstrdup(o->cwd);
  if (o->user) {
    char *end;
    p->uid = (uid_t)strtoul(o->user, &end, 10);
    if (end == o->user || (*end && *end != ':')) return ts_fail(e, "--user \"%s\": expected uid[:gid]", o->user);
    if (*end == ':') p->gid = (gid_t)strtoul(end + 1, NULL, 10);
    p->n_groups = 0;
  }
  p->terminal = o->tty;
  if (o->no_new_privs) p->no_new_privs = true;
  for (size_t i = 0; i < o->n_caps; i++) {
    int c = caps_from_name(o->caps_add[i]);
    if (c < 0) return ts_fail(e, "--cap \"%s\": unknown capability", o->caps_add[i]);
    p->has_caps = true;
    for (int k = 0; k < CAPSET_N; k++)
      if (k != CAPSET_AMBIENT || p->uid != 0) p->caps[k] |= 1ULL << c;
  }
  for (size_t i = 0; i < o->n_gids; i++) {
    _cleanup_free_ char *list = ts_xstrdup(o->gids_add[i]);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
      char *end;
      unsigned long g = strtoul(tok, &end, 10);
      if (*end || end == tok) return ts_fail(e, "--additional-gids \"%s\": expected numbers", o->gids_add[i]);
      p->groups = ts_xrealloc(p->groups, (p->n_groups + 1) * sizeof(gid_t));
      p->groups[p->n_groups++] = (gid_t)g;
    }
  }
  return 0;
}

static const struct { const char *name; int flag; } ns_order[] = {
    {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
    /* the user namespace after those it may not own (a pinned network namespace), before the mount one it does */
    {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},
};

static _Noreturn void exec_child(const struct process_spec *p, const struct seccomp_prog *filter, const struct spec *bundle, const struct cstate *st, bool placed_v2, int nsfd[], int rootfd, int console, int errfd, int preserve) {
  err_t e = {{0}};
  /* exec'd processes (health checks among them) get the container's published-port filter too;
   * without portd (killed) they run without it, so `exec` still serves to look around */
  int portd = -1;
  err_t pe;
  if (bundle && bypass_open(bundle, &portd, &pe) < 0) portd = -1;
  if (!st->cg.fake) {
    if (cg_enter_self_v1(&st->cg, &e) < 0) goto fail;
    const char *leaf = cg_v2_leaf(&st->cg);
    if (leaf && !placed_v2) {
      _cleanup_free_ char *f = ts_xasprintf("%s/cgroup.procs", leaf);
      if (ts_write_existing(f, "0", &e) < 0) goto fail;
    }
  }
  for (size_t i = 0; i < sizeof ns_order / sizeof ns_order[0]; i++)
    if (nsfd[i] >= 0 && setns(nsfd[i], ns_order[i].flag) < 0) {
      ts_failerr(&e, "cannot join the container's %s namespace", ns_order[i].name);
      goto fail;
    }
  if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
    ts_failerr(&e, "cannot enter the container's root");
    goto fail;
  }
  if (p->terminal) {
    if (setsid() < 0 || console_setup(console, p->console_rows, p->console_cols, false, &e) < 0) goto fail;
    close(console);
  }
  if (proc_apply_rlimits(p, &e) < 0) goto fail;
  char **env = proc_env(p);
  char *exe;
  if (proc_find_exe(p, env, &exe, &e) < 0) goto fail;
  if (chdir(p->cwd) < 0) {
    ts_failerr(&e, "cannot change to %s", p->cwd);
    goto fail;
  }
  if (portd >= 0 && bypass_install(portd, bundle, &e) < 0) goto fail;
  bool early = proc_seccomp_early(p, filter);
  if (early && seccomp_install(filter, &e) < 0) goto fail;
  if (proc_apply_identity(p, &e) < 0) goto fail;
  syscall(SYS_close_range, 3 + preserve, ~0U, CLOSE_RANGE_CLOEXEC);
  fcntl(errfd, F_SETFD, FD_CLOEXEC);
  proc_exec(p, exe, env, early ? NULL : filter, &e);
fail:
  if (ts_write_all(errfd, e.msg, strlen(e.msg)) < 0) {}
  _exit(127);
}

int exec_run(const struct exec_opts *o, err_t *e) {
  struct cstate st;
  if (state_load(o->id, &st, e) < 0) return -1;
  const char *status = state_status(&st);
  if (strcmp(status, "running") && strcmp(status, "created")) {
    ts_fail(e, "cannot exec in container \"%s\": it is %s", o->id, status);
    state_free(&st);
    return -1;
  }
  struct process_spec p;
  const struct seccomp_prog *filter;
  const struct spec *bundle;
  if (build_process(o, &st, &p, &filter, &bundle, e) < 0) return -1;
  if (p.terminal && o->detach && !o->console_socket) return ts_fail(e, "exec --tty --detach needs --console-socket");
  int nsfd[sizeof ns_order / sizeof ns_order[0]];
  char path[64];
  for (size_t i = 0; i < sizeof ns_order / sizeof ns_order[0]; i++) {
    nsfd[i] = -1;
    if (same_ns(st.pid, ns_order[i].name)) continue;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)st.pid, ns_order[i].name);
    if ((nsfd[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) return ts_failerr(e, "cannot open %s", path);
  }
  snprintf(path, sizeof path, "/proc/%d/root", (int)st.pid);
  _cleanup_close_ int rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return ts_failerr(e, "cannot open %s", path);
  if (!same_ns(st.pid, "pid")) {
    snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)st.pid);
    _cleanup_close_ int pidns = open(path, O_RDONLY | O_CLOEXEC);
    if (pidns < 0 || setns(pidns, CLONE_NEWPID) < 0) return ts_failerr(e, "cannot join the pid namespace of container \"%s\"", o->id);
  }
  int console = -1, own[2] = {-1, -1};
  if (p.terminal) {
    if (o->console_socket) {
      if ((console = console_connect(o->console_socket, e)) < 0) return -1;
    } else {
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, own) < 0) return ts_failerr(e, "socketpair");
      console = own[1];
    }
  }
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) < 0) return ts_failerr(e, "pipe");
  bool placed_v2 = false;
  pid_t pid = spawn_in_cgroup(0, &st.cg, &placed_v2);
  if (pid < 0) return ts_failerr(e, "fork");
  if (pid == 0) {
    close(errp[0]);
    exec_child(&p, filter, bundle, &st, placed_v2, nsfd, rootfd, console, errp[1], o->preserve_fds);
  }
  close(errp[1]);
  if (console >= 0) close(console);
  char msg[1100];
  ssize_t n, total = 0;
  while ((n = read(errp[0], msg + total, sizeof msg - 1 - (size_t)total)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) total += n;
  close(errp[0]);
  if (total > 0) {
    msg[total] = 0;
    waitpid(pid, NULL, 0);
    return ts_fail(e, "%s", msg);
  }
  if (o->pid_file) {
    char v[32];
    int len = snprintf(v, sizeof v, "%d", (int)pid);
    if (ts_write_atomic(o->pid_file, v, (size_t)len, e) < 0) return -1;
  }
  state_free(&st);
  if (o->detach) return 0;
  int master = -1;
  if (own[0] >= 0) {
    master = console_recv_fd(own[0], e);
    close(own[0]);
  }
  return wait_forwarding(pid, master);
}
