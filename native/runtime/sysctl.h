/* linux.sysctl: which keys a container may set (only those its own namespaces
 * hold, as runc validates), and writing them inside the container. A key that
 * is not namespaced would change the host's kernel for everyone
 * (kernel.core_pattern runs a program as root on the host). */
#ifndef RT_SYSCTL_H
#define RT_SYSCTL_H
#include <sched.h>
#include "spec.h"

/* The namespace a sysctl key belongs to: CLONE_NEWIPC (kernel.shm*, kernel.msg*,
 * kernel.sem, fs.mqueue.*), CLONE_NEWNET (net.*), CLONE_NEWUTS
 * (kernel.domainname), or 0 when the kernel has it once for the whole host.
 * -1 for a key that is not a plain dotted name (empty part, "/", "..",
 * characters outside [A-Za-z0-9_.-]). Pure. */
int sysctl_namespace(const char *key);
/* Every key must be namespaced, and its namespace must be the container's own:
 * new, or joined by a path that is not the runtime's own (the host's). */
int sysctl_check(const struct spec *s, err_t *e);
/* Writes the values under /proc/sys (the container's procfs, after pivot). */
int sysctl_apply(const struct spec *s, err_t *e);
#endif
