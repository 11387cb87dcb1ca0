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
/* Where the seccomp filter goes: without no_new_privs it must be loaded while
 * CAP_SYS_ADMIN is still held (before proc_apply_identity); with it, last. */
bool proc_seccomp_early(const struct process_spec *p, const struct seccomp_prog *f);
/* noNewPrivileges, umask, the seccomp filter (late_filter, may be NULL), execve.
 * Returns only on failure. */
int proc_exec(const struct process_spec *p, const char *exe, char *const env[], const struct seccomp_prog *late_filter, err_t *e);
#endif
