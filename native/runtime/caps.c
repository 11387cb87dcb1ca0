#include "caps.h"
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const cap_names[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
#define N_CAPS (int)(sizeof cap_names / sizeof cap_names[0])

const char *caps_name(int n) { return n >= 0 && n < N_CAPS ? cap_names[n] : NULL; }

int caps_from_name(const char *name) {
  if (strncasecmp(name, "CAP_", 4)) return -1;
  for (int i = 0; i < N_CAPS; i++)
    if (!strcasecmp(name + 4, cap_names[i])) return i;
  return -1;
}

static int last_cap(void) {
  static int cached = -1;
  if (cached >= 0) return cached;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  int v = N_CAPS - 1;
  if (f) {
    if (fscanf(f, "%d", &v) != 1) v = N_CAPS - 1;
    fclose(f);
  }
  return cached = v;
}

int caps_apply_bounding(const uint64_t caps[CAPSET_N], err_t *e) {
  for (int c = 0; c <= last_cap(); c++) {
    if (caps[CAPSET_BOUNDING] & (1ULL << c)) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return ts_failerr(e, "cannot drop capability %d from the bounding set", c);
  }
  return 0;
}

int caps_apply_sets(const uint64_t caps[CAPSET_N], err_t *e) {
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  uint64_t lim = last_cap() >= 63 ? ~0ULL : ((1ULL << (last_cap() + 1)) - 1);
  uint64_t eff = caps[CAPSET_EFFECTIVE] & lim, perm = caps[CAPSET_PERMITTED] & lim, inh = caps[CAPSET_INHERITABLE] & lim;
  data[0].effective = (uint32_t)eff, data[1].effective = (uint32_t)(eff >> 32);
  data[0].permitted = (uint32_t)perm, data[1].permitted = (uint32_t)(perm >> 32);
  data[0].inheritable = (uint32_t)inh, data[1].inheritable = (uint32_t)(inh >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0) return ts_failerr(e, "cannot set capabilities");
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int c = 0; c <= last_cap(); c++) {
    if (!(caps[CAPSET_AMBIENT] & (1ULL << c))) continue;
    /* The kernel allows an ambient cap only if it is permitted and inheritable;
     * like runc, skip the others instead of failing the container. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM && errno != EINVAL)
      return ts_failerr(e, "cannot raise ambient capability %d", c);
  }
  return 0;
}
