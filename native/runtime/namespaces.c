#include "namespaces.h"
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

/* Join order: the mount namespace late, so paths above resolve on the host. */
static const int order[] = {CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWCGROUP};

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
