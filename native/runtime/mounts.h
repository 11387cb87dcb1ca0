/* The container's mount namespace: rootfs, config mounts in order, /dev,
 * pivot_root (or MS_MOVE+chroot), masked and read-only paths. Runs in the
 * container child, inside its new mount namespace. */
#ifndef RT_MOUNTS_H
#define RT_MOUNTS_H
#include <stdbool.h>
#include "cgroups.h"
#include "spec.h"

/* Called once before the first cgroup mount (the caller finishes cgroup
 * placement and its cgroup namespace there). */
typedef int (*cgroup_ready_fn)(void *ctx, err_t *e);

/* Before pivot: propagation, rootfs bind, every mount, /dev nodes and links.
 * cg: the container's cgroups. A cgroup mount shows only them: their dirs are
 * bound there (v2 always: a fresh cgroup2 mount costs several ms; v1 without a
 * cgroup namespace, where a fresh mount would show the host's whole tree). */
int mounts_prepare(const struct spec *s, const struct cg_dirs *cg, cgroup_ready_fn ready, void *ctx, err_t *e);
/* Switches root to s->root: pivot_root, or MS_MOVE+chroot when no_pivot is set
 * or pivot_root is refused (root on ramfs/initramfs). */
int mounts_pivot(const struct spec *s, bool no_pivot, err_t *e);
/* After pivot: maskedPaths, readonlyPaths, sysctl, read-only root. */
int mounts_finalize(const struct spec *s, err_t *e);
#endif
