#include "spawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/sched.h>

/* clone(2) into new namespaces, born in the v2 cgroup when there is one
 * (clone3 + CLONE_INTO_CGROUP: no migration, so no RCU grace period to wait
 * for); *placed_v2 says so. Returns 0 in the child, like fork. */
pid_t spawn_in_cgroup(int ns_flags, const struct cg_dirs *cg, bool *placed_v2) {
  *placed_v2 = false;
  const char *leaf = cg_v2_leaf(cg);
  if (leaf) {
    int fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      struct clone_args args;
      memset(&args, 0, sizeof args);
      args.flags = (unsigned long long)ns_flags | CLONE_INTO_CGROUP;
      args.exit_signal = SIGCHLD;
      args.cgroup = (unsigned long long)fd;
      pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
      int saved = errno;
      if (pid != 0) close(fd);
      if (pid >= 0) {
        *placed_v2 = true;
        return pid;
      }
      errno = saved; /* older kernel or refused: placed the classic way below */
    }
  }
  return (pid_t)syscall(SYS_clone, (unsigned long)(ns_flags | SIGCHLD), NULL, NULL, NULL, 0);
}

