/* Cgroup placement and limits on v1 (and hybrid) and v2 hosts.
 * The layout is detected at run time: /sys/fs/cgroup on cgroup2 = pure v2;
 * otherwise every v1 hierarchy from mountinfo, plus the v2 `unified` mount
 * (placement only) when present. TSSTACK_CGROUP2_ROOT=DIR forces pure v2 with
 * DIR as the hierarchy root (used by tests to check v2 files on a plain tmpfs). */
#ifndef RT_CGROUPS_H
#define RT_CGROUPS_H
#include <stdbool.h>
#include <sys/types.h>
#include "spec.h"

#define CG_MAX 24

struct cg_dirs {
  size_t n_leaves;
  char *leaves[CG_MAX];       /* the container's dir in each hierarchy */
  char *leaf_ctl[CG_MAX];     /* controllers of that hierarchy ("" for v2) */
  size_t n_created;
  char *created[CG_MAX * 4];  /* dirs this runtime made, parents before children */
  bool v2;                    /* pure v2 layout */
  bool fake;                  /* v2 root from TSSTACK_CGROUP2_ROOT */
};

/* Makes the container's cgroup at `path` (absolute or relative to each hierarchy
 * root) and writes the resource limits. On failure removes what it made. */
int cg_create(const char *path, const struct resources *res, struct cg_dirs *d, err_t *e);
/* Moves pid into every leaf (cgroup.procs). The first such migration waits
 * for an RCU grace period (the global threadgroup lock). */
int cg_enter(const struct cg_dirs *d, pid_t pid, err_t *e);
/* Moves the calling single-threaded process into its v1 leaves by writing 0
 * to each `tasks` file: a thread move, which skips the global lock. */
int cg_enter_self_v1(const struct cg_dirs *d, err_t *e);
/* The v2 leaf (pure v2, or hybrid's unified tree), or NULL; for clone3's
 * CLONE_INTO_CGROUP. NULL on a fake (tmpfs) root. */
const char *cg_v2_leaf(const struct cg_dirs *d);
/* Removes the dirs this runtime made, deepest first, retrying while busy. */
int cg_destroy(const struct cg_dirs *d, err_t *e);
/* The v1 hierarchies (controllers, mount point) from mountinfo; returns the count. */
size_t cg_v1_hierarchies(char ctl[][256], char mount[][512], size_t max);
/* Pids in the container's cgroup (from the pids, memory or v2 leaf). Caller frees. */
int cg_pids(const struct cg_dirs *d, pid_t **out, size_t *n, err_t *e);
/* Writes the v2 limit files for res into dir (the v2 write layer; pure logic
 * apart from the writes, so tests can target a tmpfs). */
int cg2_apply(const char *dir, const struct resources *res, bool fake, err_t *e);
/* The v2 cpu.weight for v1 cpu.shares (runc's linear map of [2,262144] onto [1,10000]). */
unsigned long long cg2_shares_to_weight(unsigned long long shares);
/* Freezes (or thaws) every process in the container: v1 freezer.state, v2 cgroup.freeze. */
int cg_freeze(const struct cg_dirs *d, bool freeze, err_t *e);
/* Whether the container's cgroup is frozen. */
bool cg_frozen(const struct cg_dirs *d);
void cg_dirs_free(struct cg_dirs *d);
#endif
