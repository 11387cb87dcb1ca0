/* OOM kills: the kernel counts them per memory cgroup — `oom_kill` in
 * memory.oom_control (v1) or memory.events (v2). The container's cgroup is
 * found from /proc/<pid>/cgroup right after create, while it exists. */
#include "mon.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long read_oom_kill(const char *path) {
  char buf[1024]; /* memory.events and memory.oom_control are a few short lines */
  if (mon_read_small(path, buf, sizeof buf) < 0) return -1;
  for (const char *l = buf; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
    if (!strncmp(l, "oom_kill ", 9)) return strtol(l + 9, NULL, 10);
  return -1;
}

void mon_oom_locate(struct mon *m) {
  char p[64], line[4096], v1[2048] = "", v2[2048] = "";
  m->oom_path[0] = 0;
  m->oom_base = 0;
  snprintf(p, sizeof p, "/proc/%d/cgroup", (int)m->st.pid);
  FILE *f = fopen(p, "re");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = 0;
    const char *ctrls = c1 + 1, *path = c2 + 1;
    if (!*ctrls) snprintf(v2, sizeof v2, "%s", path);
    else {
      /* the memory controller may be co-mounted: "memory" or "cpu,memory" */
      char tmp[256];
      snprintf(tmp, sizeof tmp, ",%s,", ctrls);
      if (strstr(tmp, ",memory,")) snprintf(v1, sizeof v1, "%s", path);
    }
  }
  fclose(f);
  if (v1[0]) snprintf(m->oom_path, sizeof m->oom_path, "/sys/fs/cgroup/memory%s/memory.oom_control", v1);
  else if (v2[0] && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
    snprintf(m->oom_path, sizeof m->oom_path, "/sys/fs/cgroup%s/memory.events", v2);
  if (m->oom_path[0]) {
    long v = read_oom_kill(m->oom_path);
    if (v < 0) m->oom_path[0] = 0;
    else m->oom_base = v;
  }
}

bool mon_oom_check(struct mon *m) {
  if (!m->oom_path[0]) return false;
  long v = read_oom_kill(m->oom_path);
  return v > m->oom_base;
}
