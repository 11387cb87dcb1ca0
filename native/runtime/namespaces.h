/* Namespaces from linux.namespaces: the ones to create (clone flags) and the
 * ones to join by path (a pinned network namespace, another container's…). */
#ifndef RT_NAMESPACES_H
#define RT_NAMESPACES_H
#include "spec.h"

struct ns_joins {
  int fds[8];
  int flags[8];
  const char *paths[8];
  size_t n;
};

/* CLONE_NEW* flags of the namespaces to create. The cgroup namespace is left
 * out: it is unshared once the process sits in its cgroup. */
int ns_clone_flags(const struct spec *s);
/* Opens every namespace to join. The pid namespace is entered right here:
 * setns(CLONE_NEWPID) applies to the caller's next children. */
int ns_open_joins(const struct spec *s, struct ns_joins *j, err_t *e);
/* In the child: joins the others (ipc, uts, net, mnt, cgroup order). */
int ns_enter_joins(const struct ns_joins *j, err_t *e);
void ns_close_joins(struct ns_joins *j);
#endif
