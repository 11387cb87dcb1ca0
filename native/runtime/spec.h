/* The parts of an OCI runtime-spec config.json that tsstack-runtime acts on,
 * parsed and checked up front so the container child only executes. */
#ifndef RT_SPEC_H
#define RT_SPEC_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "json.h"
#include "seccomp.h"

enum { CAPSET_BOUNDING, CAPSET_EFFECTIVE, CAPSET_INHERITABLE, CAPSET_PERMITTED, CAPSET_AMBIENT, CAPSET_N };

struct rlimit_spec { int resource; unsigned long long soft, hard; };

struct process_spec {
  bool terminal;
  unsigned short console_rows, console_cols; /* process.consoleSize; 0 = unset */
  char **args;          /* NULL-terminated */
  char **env;           /* NULL-terminated */
  char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t n_groups;
  long umask;           /* -1 when unset */
  bool has_caps;
  uint64_t caps[CAPSET_N];
  struct rlimit_spec *rlimits;
  size_t n_rlimits;
  bool no_new_privs;
  bool has_oom_score_adj;
  int oom_score_adj;
};

struct mount_spec {
  char *destination, *type, *source;
  unsigned long flags;      /* MS_* applied at mount (or bind remount) time */
  unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE [| MS_REC] */
  bool bind, recursive;
  char *data;               /* filesystem options not mapped to flags */
};

struct ns_spec { int flag; char *path; }; /* flag is a CLONE_NEW*; path NULL = new */

/* One line of linux.uidMappings / gidMappings: ids [inner, inner+size) are the
 * runtime's ids [outer, outer+size). */
struct id_map { unsigned long long inner, outer, size; };
#define MAX_ID_MAPS 340 /* the kernel's limit of lines in uid_map */

struct device_spec {
  char *path;
  char type;                /* c, b, u, p */
  long long major, minor;
  unsigned mode;
  uid_t uid;
  gid_t gid;
};

struct device_rule { bool allow; char type; long long major, minor; char *access; };

struct resources {
  bool has_mem_limit, has_mem_swap, has_mem_reservation, has_swappiness;
  long long mem_limit, mem_swap, mem_reservation;
  unsigned long long swappiness;
  bool has_cpu_shares, has_cpu_quota, has_cpu_period;
  unsigned long long cpu_shares, cpu_period;
  long long cpu_quota;
  char *cpus, *mems;
  bool has_pids;
  long long pids_limit;
  struct device_rule *devices;
  size_t n_devices;
};

enum { HOOK_PRESTART, HOOK_CREATE_RUNTIME, HOOK_CREATE_CONTAINER, HOOK_START_CONTAINER, HOOK_POSTSTART, HOOK_POSTSTOP, HOOK_KINDS };

struct hook {
  char *path;
  char **args;      /* NULL-terminated; {path} when absent */
  char **env;       /* NULL-terminated */
  long timeout;     /* seconds; 0 = none */
};

struct spec {
  json *doc;
  struct hook *hooks[HOOK_KINDS];
  size_t n_hooks[HOOK_KINDS];
  char *bundle;             /* absolute */
  char *oci_version;
  char *root;               /* absolute rootfs path */
  bool root_readonly;
  bool has_process;
  struct process_spec proc;
  char *hostname, *domainname;
  struct mount_spec *mounts;
  size_t n_mounts;
  struct ns_spec *ns;
  size_t n_ns;
  struct id_map *uid_maps, *gid_maps; /* a new user namespace's mappings */
  size_t n_uid_maps, n_gid_maps;
  char **masked, **readonly;
  size_t n_masked, n_readonly;
  char *cgroups_path;       /* NULL = default "/<id>" */
  struct resources res;
  char **sysctl_keys, **sysctl_values;
  size_t n_sysctl;
  unsigned long rootfs_propagation;
  struct device_spec *devices;
  size_t n_devices;
  json *annotations;        /* borrowed from doc */
  struct seccomp_prog *seccomp; /* compiled linux.seccomp; NULL when absent */
};

/* Loads <bundle>/config.json; checks that the rootfs exists and every
 * namespace type is known. Errors name the file and the offending field. */
int spec_load(const char *bundle, struct spec *s, err_t *e);
/* Parses an OCI "process" object (config.json's, or exec --process's). */
int spec_parse_process(const json *p, struct process_spec *out, const char *where, err_t *e);
/* Parses a mount "options" list into flags/propagation/data. */
int spec_mount_options(const json *opts, struct mount_spec *m, const char *where, err_t *e);
bool spec_has_ns(const struct spec *s, int flag);
/* The i-th mount option this runtime understands (NULL past the end), for `features`. */
const char *spec_mount_option(size_t i);
const struct ns_spec *spec_ns(const struct spec *s, int flag);
#endif
