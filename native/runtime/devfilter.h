/* The device rules (linux.resources.devices) on cgroup v2: an eBPF
 * BPF_PROG_TYPE_CGROUP_DEVICE program attached to the container's cgroup, the
 * v2 counterpart of v1's devices.allow/deny. */
#ifndef RT_DEVFILTER_H
#define RT_DEVFILTER_H
#include "spec.h"

/* Builds and attaches the program to cgroup dir `dir`. No rules: nothing attached. */
int devfilter_attach(const char *dir, const struct resources *res, err_t *e);
#endif
