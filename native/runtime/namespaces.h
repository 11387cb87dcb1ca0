/* Namespaces from linux.namespaces: the ones to create (clone flags) and the
 * ones to join by path (a pinned network namespace, another container's…). */
#ifndef RT_NAMESPACES_H
#define RT_NAMESPACES_H
#include <stdbool.h>
#include <sys/types.h>
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

/* The namespaces made with a new user namespace belong to it, and its init has no
 * privilege over the runtime's own: it could not join a pinned network namespace
 * after the clone. So the parent joins every namespace to join but the mount one
 * just before the clone (the child inherits them) and goes back right after.
 * Used only when a new user namespace is made. */
struct ns_saved {
  int fds[8];
  int flags[8];
  size_t n;
};
int ns_parent_join(struct ns_joins *j, struct ns_saved *sv, err_t *e);
/* Back to the namespaces saved by ns_parent_join (fatal when refused: the
 * runtime must not go on in the container's namespaces). */
int ns_parent_restore(struct ns_saved *sv, err_t *e);

/* True when the runtime itself runs in a user namespace other than the initial one. */
bool ns_in_user_ns(void);
/* Writes a new user namespace's uid_map and gid_map for `pid` (setgroups denied
 * first when the runtime lacks the privilege to map groups); an unprivileged
 * runtime whose write is refused asks newuidmap/newgidmap, as shadow's tools map
 * subordinate ids. */
int ns_write_id_maps(const struct spec *s, pid_t pid, err_t *e);
/* In the child once mapped: become the namespace's root when it is mapped, so
 * files made while setting up belong to a mapped id. */
int ns_become_root(const struct spec *s, err_t *e);
#endif
