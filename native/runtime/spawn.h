/* Creating the container's processes inside their cgroup. */
#ifndef RT_SPAWN_H
#define RT_SPAWN_H
#include <stdbool.h>
#include <sys/types.h>
#include "cgroups.h"

/* clone(2) with ns_flags (CLONE_NEW*, or 0 for a plain fork), born in the v2
 * leaf of cg when there is one (clone3 + CLONE_INTO_CGROUP: no migration, so no
 * RCU grace period to wait for); *placed_v2 says whether that happened.
 * Returns 0 in the child, like fork. */
pid_t spawn_in_cgroup(int ns_flags, const struct cg_dirs *cg, bool *placed_v2);
#endif
