#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cgroups.h"

unsigned long long cg2_shares_to_weight(unsigned long long shares) {
  if (shares == 0) return 0;
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

/* On a real cgroup2 fs the kernel made the file; on a fake root it is created. */
static int cg2_write(const char *dir, const char *file, const char *value, bool fake, err_t *e) {
  _cleanup_free_ char *path = ts_xasprintf("%s/%s", dir, file);
  _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | (fake ? O_CREAT : 0), 0644);
  if (fd < 0) return ts_failerr(e, "cgroup v2: cannot open %s", path);
  if (ts_write_all(fd, value, strlen(value)) < 0) return ts_failerr(e, "cgroup v2: cannot write '%s' to %s", value, path);
  return 0;
}

int cg2_apply(const char *dir, const struct resources *r, bool fake, err_t *e) {
  char v[128];
  if (r->has_mem_limit) {
    if (r->mem_limit > 0) snprintf(v, sizeof v, "%lld", r->mem_limit);
    else snprintf(v, sizeof v, "max");
    if (cg2_write(dir, "memory.max", v, fake, e) < 0) return -1;
  }
  if (r->has_mem_swap) {
    /* OCI swap is memory+swap; v2 swap.max counts swap alone. */
    if (r->mem_swap < 0) snprintf(v, sizeof v, "max");
    else if (r->has_mem_limit && r->mem_limit > 0) {
      if (r->mem_swap < r->mem_limit) return ts_fail(e, "memory.swap (%lld) must not be lower than memory.limit (%lld)", r->mem_swap, r->mem_limit);
      snprintf(v, sizeof v, "%lld", r->mem_swap - r->mem_limit);
    } else snprintf(v, sizeof v, "%lld", r->mem_swap);
    if (cg2_write(dir, "memory.swap.max", v, fake, e) < 0) return -1;
  }
  if (r->has_mem_reservation) {
    snprintf(v, sizeof v, "%lld", r->mem_reservation > 0 ? r->mem_reservation : 0);
    if (cg2_write(dir, "memory.low", v, fake, e) < 0) return -1;
  }
  if (r->has_cpu_shares) {
    snprintf(v, sizeof v, "%llu", cg2_shares_to_weight(r->cpu_shares));
    if (cg2_write(dir, "cpu.weight", v, fake, e) < 0) return -1;
  }
  if (r->has_cpu_quota || r->has_cpu_period) {
    unsigned long long period = r->has_cpu_period ? r->cpu_period : 100000;
    if (r->has_cpu_quota && r->cpu_quota > 0) snprintf(v, sizeof v, "%lld %llu", r->cpu_quota, period);
    else snprintf(v, sizeof v, "max %llu", period);
    if (cg2_write(dir, "cpu.max", v, fake, e) < 0) return -1;
  }
  if (r->cpus && cg2_write(dir, "cpuset.cpus", r->cpus, fake, e) < 0) return -1;
  if (r->mems && cg2_write(dir, "cpuset.mems", r->mems, fake, e) < 0) return -1;
  if (r->has_pids) {
    if (r->pids_limit > 0) snprintf(v, sizeof v, "%lld", r->pids_limit);
    else snprintf(v, sizeof v, "max");
    if (cg2_write(dir, "pids.max", v, fake, e) < 0) return -1;
  }
  return 0;
}
