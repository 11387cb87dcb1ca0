#include "namespaces.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Join order: a user namespace first (it grants the rights to join those it
 * owns), the mount namespace late, so paths above resolve on the host. */
static const int order[] = {CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWCGROUP};

int ns_clone_flags(const struct spec *s) {
  int flags = 0;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    const struct ns_spec *ns = spec_ns(s, order[i]);
    if (ns && !ns->path && order[i] != CLONE_NEWCGROUP) flags |= order[i];
  }
  return flags;
}

int ns_open_joins(const struct spec *s, struct ns_joins *j, err_t *e) {
  j->n = 0;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    const struct ns_spec *ns = spec_ns(s, order[i]);
    if (!ns || !ns->path) continue;
    int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      ns_close_joins(j);
      return ts_failerr(e, "cannot open namespace %s", ns->path);
    }
    if (order[i] == CLONE_NEWPID) {
      int r = setns(fd, CLONE_NEWPID);
      close(fd);
      if (r < 0) {
        ns_close_joins(j);
        return ts_failerr(e, "cannot join pid namespace %s", ns->path);
      }
      continue;
    }
    j->fds[j->n] = fd;
    j->flags[j->n] = order[i];
    j->paths[j->n++] = ns->path;
  }
  return 0;
}

int ns_enter_joins(const struct ns_joins *j, err_t *e) {
  for (size_t i = 0; i < j->n; i++)
    if (setns(j->fds[i], j->flags[i]) < 0) return ts_failerr(e, "cannot join namespace %s", j->paths[i]);
  return 0;
}

void ns_close_joins(struct ns_joins *j) {
  for (size_t i = 0; i < j->n; i++) close(j->fds[i]);
  j->n = 0;
}

static const char *proc_name(int flag) {
  switch (flag) {
  case CLONE_NEWIPC: return "ipc";
  case CLONE_NEWUTS: return "uts";
  case CLONE_NEWNET: return "net";
  case CLONE_NEWCGROUP: return "cgroup";
  default: return NULL;
  }
}

int ns_parent_join(struct ns_joins *j, struct ns_saved *sv, err_t *e) {
  sv->n = 0;
  size_t keep = 0;
  for (size_t i = 0; i < j->n; i++) {
    const char *name = proc_name(j->flags[i]);
    if (!name) { /* the mount namespace: joined by the child, as before */
      j->fds[keep] = j->fds[i], j->flags[keep] = j->flags[i], j->paths[keep++] = j->paths[i];
      continue;
    }
    char self[32];
    snprintf(self, sizeof self, "/proc/self/ns/%s", name);
    int back = open(self, O_RDONLY | O_CLOEXEC);
    if (back < 0) return ts_failerr(e, "cannot open %s", self);
    sv->fds[sv->n] = back;
    sv->flags[sv->n++] = j->flags[i];
    if (setns(j->fds[i], j->flags[i]) < 0) return ts_failerr(e, "cannot join namespace %s", j->paths[i]);
    close(j->fds[i]);
  }
  j->n = keep;
  return 0;
}

int ns_parent_restore(struct ns_saved *sv, err_t *e) {
  int rc = 0;
  for (size_t i = 0; i < sv->n; i++) {
    if (rc == 0 && setns(sv->fds[i], sv->flags[i]) < 0) rc = ts_failerr(e, "cannot return to the runtime's %s namespace", proc_name(sv->flags[i]));
    close(sv->fds[i]);
  }
  sv->n = 0;
  return rc;
}

bool ns_in_user_ns(void) {
  char buf[256] = {0};
  int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  unsigned long inner, outer, size;
  int used = 0;
  /* the initial namespace maps every id to itself in one line */
  if (n <= 0 || sscanf(buf, "%lu %lu %lu%n", &inner, &outer, &size, &used) != 3) return true;
  bool identity = inner == 0 && outer == 0 && size == 4294967295UL;
  return !identity || strchr(buf + used + 1, '\n') != NULL;
}

static char *map_text(const struct id_map *m, size_t n) {
  jbuf b = {0};
  for (size_t i = 0; i < n; i++) jb_printf(&b, "%llu %llu %llu\n", m[i].inner, m[i].outer, m[i].size);
  return b.p;
}

/* newuidmap / newgidmap PID inner outer size …: 0 when they mapped it. */
static int run_newidmap(const char *tool, pid_t pid, const struct id_map *m, size_t n, err_t *e) {
  char **argv = ts_xmalloc((3 * n + 3) * sizeof(char *));
  size_t k = 0;
  argv[k++] = (char *)tool;
  argv[k++] = ts_xasprintf("%d", (int)pid);
  for (size_t i = 0; i < n; i++) {
    argv[k++] = ts_xasprintf("%llu", m[i].inner);
    argv[k++] = ts_xasprintf("%llu", m[i].outer);
    argv[k++] = ts_xasprintf("%llu", m[i].size);
  }
  argv[k] = NULL;
  pid_t c = fork();
  if (c == 0) {
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) dup2(null, 1);
    execvp(tool, argv);
    _exit(127);
  }
  int st = 0;
  while (c > 0 && waitpid(c, &st, 0) < 0 && errno == EINTR) {}
  for (size_t i = 1; i < k; i++) free(argv[i]);
  free(argv);
  if (c < 0) return ts_failerr(e, "cannot run %s", tool);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) {
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return ts_fail(e, "%s is not installed (package uidmap)", tool);
    return ts_fail(e, "%s refused the mapping (see its message above; /etc/subuid and /etc/subgid say which ids you may map)", tool);
  }
  return 0;
}

static int write_map(pid_t pid, const char *file, const char *tool, const struct id_map *m, size_t n, err_t *e) {
  _cleanup_free_ char *path = ts_xasprintf("/proc/%d/%s", (int)pid, file);
  _cleanup_free_ char *text = map_text(m, n);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ts_failerr(e, "cannot open %s", path);
  ssize_t w = write(fd, text, strlen(text));
  int err = errno;
  close(fd);
  if (w == (ssize_t)strlen(text)) return 0;
  /* An ordinary user may write only their own id: shadow's setuid tools map the subordinate ones. */
  if (err == EPERM && geteuid() != 0) return run_newidmap(tool, pid, m, n, e);
  errno = err;
  return ts_failerr(e, "cannot write %s (%s)", path, text);
}

int ns_write_id_maps(const struct spec *s, pid_t pid, err_t *e) {
  if (write_map(pid, "uid_map", "newuidmap", s->uid_maps, s->n_uid_maps, e) < 0) return -1;
  /* Without CAP_SETGID over our own namespace a gid_map is accepted only once
   * setgroups(2) is denied in the new one (else a group could be dropped to
   * get past a negative group permission). One own-group line only: newgidmap
   * handles the rest and keeps setgroups allowed. */
  if (geteuid() != 0 && s->n_gid_maps == 1 && s->gid_maps[0].size == 1 && s->gid_maps[0].outer == (unsigned long long)getegid()) {
    _cleanup_free_ char *sg = ts_xasprintf("/proc/%d/setgroups", (int)pid);
    if (ts_write_existing(sg, "deny", e) < 0) return -1;
  }
  return write_map(pid, "gid_map", "newgidmap", s->gid_maps, s->n_gid_maps, e);
}

static bool maps_zero(const struct id_map *m, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (m[i].inner == 0) return true;
  return false;
}

int ns_become_root(const struct spec *s, err_t *e) {
  if (!maps_zero(s->gid_maps, s->n_gid_maps) || !maps_zero(s->uid_maps, s->n_uid_maps)) return 0;
  /* The runtime's supplementary groups mean nothing in here; dropping them is refused when setgroups is denied. */
  if (setgroups(0, NULL) < 0 && errno != EPERM) return ts_failerr(e, "cannot clear the supplementary groups");
  if (setresgid(0, 0, 0) < 0) return ts_failerr(e, "cannot become gid 0 of the user namespace");
  if (setresuid(0, 0, 0) < 0) return ts_failerr(e, "cannot become uid 0 of the user namespace");
  return 0;
}
