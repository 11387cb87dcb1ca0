/* The last steps before execve, shared by a container's init and `exec`. */
#ifndef RT_PROCESS_H
#define RT_PROCESS_H
#include "spec.h"

int proc_apply_rlimits(const struct process_spec *p, err_t *e);
/* Adds HOME (from /etc/passwd of the current root) and a default PATH when absent.
 * Returns a new NULL-terminated env (caller keeps it until exec). */
char **proc_env(const struct process_spec *p);
/* Finds args[0] on PATH (from env) in the current root; *out is the path to execve. */
int proc_find_exe(const struct process_spec *p, char *const env[], char **out, err_t *e);
/* Bounding set, groups, gid, uid, then the other capability sets. */
int proc_apply_identity(const struct process_spec *p, err_t *e);
/* noNewPrivileges, umask, execve. Returns only on failure. */
int proc_exec(const struct process_spec *p, const char *exe, char *const env[], err_t *e);
#endif
