#include "sysctl.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

/* The IPC namespace's own kernel.* keys (Docker's and runc's list). */
static const char *const ipc_keys[] = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", NULL,
};

#define ALLOWED "only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* (and kernel.domainname) may be set per container"

static bool plain_name(const char *key) {
  if (!*key || *key == '.') return false;
  for (const char *c = key; *c; c++) {
    if (*c == '.' && (c[1] == '.' || c[1] == 0)) return false;
    if (!(*c == '.' || *c == '_' || *c == '-' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
      return false;
  }
  return true;
}

int sysctl_namespace(const char *key) {
  if (!plain_name(key)) return -1;
  for (int i = 0; ipc_keys[i]; i++)
    if (!strcmp(key, ipc_keys[i])) return CLONE_NEWIPC;
  if (!strncmp(key, "fs.mqueue.", 10)) return CLONE_NEWIPC;
  if (!strncmp(key, "net.", 4)) return CLONE_NEWNET;
  if (!strcmp(key, "kernel.domainname")) return CLONE_NEWUTS;
  return 0;
}

/* Whether the namespace file at path is the one this process is in. */
static int same_as_ours(const char *path, const char *kind, bool *same, err_t *e) {
  struct stat a, b;
  _cleanup_free_ char *self = ts_xasprintf("/proc/self/ns/%s", kind);
  if (stat(path, &a) < 0) return ts_failerr(e, "cannot stat namespace %s", path);
  if (stat(self, &b) < 0) return ts_failerr(e, "cannot stat %s", self);
  *same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  return 0;
}

int sysctl_check(const struct spec *s, err_t *e) {
  const char *where = s->bundle;
  for (size_t i = 0; i < s->n_sysctl; i++) {
    const char *k = s->sysctl_keys[i];
    int ns = sysctl_namespace(k);
    if (ns < 0) return ts_fail(e, "%s/config.json: linux.sysctl: \"%s\" is not a sysctl name (dotted words, no \"/\" or \"..\")", where, k);
    if (ns == 0)
      return ts_fail(e, "%s/config.json: linux.sysctl: %s is not namespaced (setting it would change the host); " ALLOWED, where, k);
    const char *kind = ns == CLONE_NEWNET ? "net" : ns == CLONE_NEWIPC ? "ipc" : "uts";
    const char *type = ns == CLONE_NEWNET ? "network" : kind; /* its name in linux.namespaces */
    const struct ns_spec *own = spec_ns(s, ns);
    if (!own)
      return ts_fail(e, "%s/config.json: linux.sysctl: %s is not allowed in the host's %s namespace (add {\"type\":\"%s\"} to linux.namespaces)",
                     where, k, type, type);
    if (ns == CLONE_NEWUTS && own->path)
      return ts_fail(e, "%s/config.json: linux.sysctl: %s needs a new uts namespace", where, k);
    if (own->path) {
      bool same;
      if (same_as_ours(own->path, kind, &same, e) < 0) return -1;
      if (same) return ts_fail(e, "%s/config.json: linux.sysctl: %s is not allowed: the %s namespace %s is the host's", where, k, type, own->path);
    }
  }
  return 0;
}

int sysctl_apply(const struct spec *s, err_t *e) {
  for (size_t i = 0; i < s->n_sysctl; i++) {
    _cleanup_free_ char *p = ts_xasprintf("/proc/sys/%s", s->sysctl_keys[i]);
    for (char *c = p + 10; *c; c++)
      if (*c == '.') *c = '/';
    /* Only ever a file of procfs: an image's /proc cannot redirect the write. */
    _cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ts_failerr(e, "linux.sysctl: cannot open %s", p);
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) return ts_fail(e, "linux.sysctl: %s is not on procfs", p);
    const char *v = s->sysctl_values[i];
    if (ts_write_all(fd, v, strlen(v)) < 0) return ts_failerr(e, "linux.sysctl: cannot write '%s' to %s", v, p);
  }
  return 0;
}
