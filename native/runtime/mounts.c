#include "mounts.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cgroups.h"
#include "devices.h"
#include "namespaces.h"
#include "rootpath.h"
#include "sysctl.h"

/* Flags already on a mount; a bind remount must repeat them or lose them. */
static unsigned long current_flags(const char *path) {
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs(path, &sv) < 0) return 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  return f;
}

/* Creates the mount point: a directory, or an empty file for a file bind. */
static int make_target(const char *full, bool file, err_t *e) {
  struct stat st;
  if (stat(full, &st) == 0) {
    if (file && S_ISDIR(st.st_mode)) return ts_fail(e, "cannot bind a file onto the directory %s", full);
    return 0;
  }
  _cleanup_free_ char *parent = ts_xstrdup(full);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = 0;
    if (ts_mkdir_p(parent, 0755, e) < 0) return -1;
  }
  if (!file) return ts_mkdir_p(full, 0755, e);
  int fd = open(full, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ts_failerr(e, "cannot create mount point %s", full);
  close(fd);
  return 0;
}

/* cgroup2 at dst: a bind of the container's own dir when given, else a fresh mount. */
static int mount_cgroup2(const char *dst, unsigned long flags, const char *leaf, err_t *e) {
  if (!leaf) {
    if (mount("cgroup2", dst, "cgroup2", flags, NULL) < 0) return ts_failerr(e, "cannot mount cgroup2 on %s", dst);
    return 0;
  }
  if (mount(leaf, dst, NULL, MS_BIND, NULL) < 0) return ts_failerr(e, "cannot bind %s on %s", leaf, dst);
  if (flags && mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | flags | current_flags(dst), NULL) < 0)
    return ts_failerr(e, "cannot remount %s with its options", dst);
  return 0;
}

/* The container's own dir in the v1 hierarchy with these controllers, or NULL. */
static const char *v1_leaf(const struct cg_dirs *cg, const char *ctl) {
  for (size_t i = 0; cg && i < cg->n_leaves; i++)
    if (cg->leaf_ctl[i][0] && !strcmp(cg->leaf_ctl[i], ctl)) return cg->leaves[i];
  return NULL;
}

/* Without a cgroup namespace a fresh cgroup mount shows the host's whole tree,
 * every other container's cgroup included. Then, as runc does, only the
 * container's own cgroup is bound there: in each v1 hierarchy its directory,
 * in v2 its directory. With a new cgroup namespace a fresh v1 mount is rooted
 * at the container's cgroup already (v2 binds its dir either way: faster). */
static int mount_cgroup(const char *full, const struct mount_spec *m, const struct cg_dirs *cg, bool cgns, const char *v2_leaf, err_t *e) {
  unsigned long flags = m->flags & ~(MS_REMOUNT | MS_RDONLY);
  if (make_target(full, false, e) < 0) return -1;
  if (getenv("TSSTACK_CGROUP2_ROOT") == NULL && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
    if (!v2_leaf && !cgns) return ts_fail(e, "cannot mount cgroup2 on %s: the container has no cgroup of its own to show", full);
    return mount_cgroup2(full, m->flags & ~MS_REMOUNT, v2_leaf, e);
  }
  /* v1 / hybrid: a tmpfs holding one mount per hierarchy, as on the host. */
  if (mount("tmpfs", full, "tmpfs", flags, "mode=755") < 0) return ts_failerr(e, "cannot mount tmpfs on %s", full);
  static char ctl[CG_MAX][256], mnt[CG_MAX][512];
  size_t n = cg_v1_hierarchies(ctl, mnt, CG_MAX);
  for (size_t i = 0; i < n; i++) {
    const char *base = strrchr(mnt[i], '/');
    const char *own = cgns ? NULL : v1_leaf(cg, ctl[i]);
    if (!cgns && !own) continue; /* no cgroup of its own there: nothing to show */
    _cleanup_free_ char *dir = ts_xasprintf("%s/%s", full, base ? base + 1 : ctl[i]);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) return ts_failerr(e, "cannot create %s", dir);
    if (own) {
      if (mount(own, dir, NULL, MS_BIND, NULL) < 0) return ts_failerr(e, "cannot bind %s on %s", own, dir);
      if (mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | (m->flags & ~MS_REMOUNT) | current_flags(dir), NULL) < 0)
        return ts_failerr(e, "cannot remount %s with its options", dir);
    } else if (mount("cgroup", dir, "cgroup", m->flags & ~MS_REMOUNT, ctl[i]) < 0) {
      /* a user namespace may not mount v1 hierarchies (the kernel allows only cgroup2 there): left empty */
      if (errno == EPERM && ns_in_user_ns()) continue;
      return ts_failerr(e, "cannot mount cgroup %s on %s", ctl[i], dir);
    }
  }
  if (access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 && (cgns || v2_leaf)) {
    _cleanup_free_ char *dir = ts_xasprintf("%s/unified", full);
    if (mkdir(dir, 0755) == 0 && mount_cgroup2(dir, m->flags & ~MS_REMOUNT, v2_leaf, e) < 0) return -1;
  }
  if ((m->flags & MS_RDONLY) && mount(NULL, full, NULL, MS_REMOUNT | MS_RDONLY | flags, "mode=755") < 0)
    return ts_failerr(e, "cannot make %s read-only", full);
  return 0;
}

static int mount_one(const struct spec *s, const struct mount_spec *m, size_t idx, const struct cg_dirs *cg, bool cgns, const char *v2_leaf, err_t *e) {
  _cleanup_free_ char *full = NULL;
  err_t re;
  if (rootpath_resolve(s->root, m->destination, &full, &re) < 0) return ts_fail(e, "mounts[%zu]: %s", idx, re.msg);
  if (!strcmp(m->type, "cgroup")) {
    if (mount_cgroup(full, m, cg, cgns, v2_leaf, e) < 0) return -1;
  } else if (m->bind) {
    struct stat st;
    if (stat(m->source, &st) < 0) return ts_failerr(e, "mounts[%zu]: bind source %s", idx, m->source);
    if (make_target(full, !S_ISDIR(st.st_mode), e) < 0) return -1;
    if (mount(m->source, full, NULL, MS_BIND | (m->recursive ? MS_REC : 0), NULL) < 0)
      return ts_failerr(e, "mounts[%zu]: cannot bind %s on %s", idx, m->source, m->destination);
    unsigned long extra = m->flags & ~(MS_REMOUNT | MS_REC);
    if (extra && mount(NULL, full, NULL, MS_BIND | MS_REMOUNT | extra | current_flags(full), NULL) < 0)
      return ts_failerr(e, "mounts[%zu]: cannot remount %s with its options", idx, m->destination);
  } else {
    if (make_target(full, false, e) < 0) return -1;
    if (mount(m->source, full, m->type, m->flags & ~MS_REMOUNT, m->data) < 0) {
      /* sysfs cannot be mounted when the network namespace is not ours: bind it. */
      /* The host's, bound with the options asked for (read-only above all: root
       * may write any sysfs file, /sys/kernel/uevent_helper included). Not
       * recursive: the host's mounts below /sys are not the container's. */
      const char *host = !strcmp(m->type, "sysfs") ? "/sys" : !strcmp(m->type, "mqueue") ? "/dev/mqueue" : NULL;
      if (host && (errno == EPERM || errno == EBUSY)) {
        /* In a user namespace the kernel binds a tree with its submounts only (they are
         * locked: a bind without them would show what they cover); writes there still
         * need privilege over the host's namespaces. */
        unsigned long rec = ns_in_user_ns() ? MS_REC : 0;
        if (mount(host, full, NULL, MS_BIND | rec, NULL) < 0) return ts_failerr(e, "mounts[%zu]: cannot bind %s on %s", idx, host, m->destination);
        unsigned long keep = m->flags & ~(MS_REMOUNT | MS_REC);
        if (keep && mount(NULL, full, NULL, MS_BIND | MS_REMOUNT | keep | current_flags(full), NULL) < 0)
          return ts_failerr(e, "mounts[%zu]: cannot remount %s with its options", idx, m->destination);
      } else
        return ts_failerr(e, "mounts[%zu]: cannot mount %s (%s) on %s", idx, m->source, m->type, m->destination);
    }
  }
  if (m->propagation && mount(NULL, full, NULL, m->propagation, NULL) < 0)
    return ts_failerr(e, "mounts[%zu]: cannot set propagation on %s", idx, m->destination);
  return 0;
}

int mounts_prepare(const struct spec *s, const struct cg_dirs *cg, cgroup_ready_fn ready, void *ctx, err_t *e) {
  const struct ns_spec *cgns_spec = spec_ns(s, CLONE_NEWCGROUP);
  bool cgns = cgns_spec != NULL;
  /* A joined cgroup namespace shows its own root: mounted afresh, not bound. */
  const char *v2_leaf = cgns_spec && cgns_spec->path ? NULL : cg_v2_leaf(cg);
  unsigned long prop = s->rootfs_propagation ? s->rootfs_propagation : MS_SLAVE | MS_REC;
  /* Nothing mounted from here on may propagate back to the host. Shared root
   * propagation is applied after pivot; the host side stays slave until then. */
  unsigned long first = (prop & MS_SHARED) ? MS_SLAVE | MS_REC : prop;
  if (mount(NULL, "/", NULL, first, NULL) < 0) {
    /* EINVAL: "/" is not a mount (we run chrooted, e.g. from an initramfs).
     * Then the rootfs must be a mount of its own (the engine's overlay is). */
    if (errno != EINVAL) return ts_failerr(e, "cannot set mount propagation of /");
    if (mount(NULL, s->root, NULL, first, NULL) < 0)
      return ts_failerr(e, "cannot isolate mounts: / is not a mount point (chroot?) and the rootfs %s is not one either", s->root);
  }
  if (mount(s->root, s->root, NULL, MS_BIND | MS_REC, NULL) < 0) return ts_failerr(e, "cannot bind the rootfs %s", s->root);
  bool dev_tmpfs = false, devpts = false;
  for (size_t i = 0; i < s->n_mounts; i++) {
    if (!strcmp(s->mounts[i].type, "cgroup") && ready && ready(ctx, e) < 0) return -1;
    if (mount_one(s, &s->mounts[i], i, cg, cgns, v2_leaf, e) < 0) return -1;
    if (!strcmp(s->mounts[i].destination, "/dev") && !s->mounts[i].bind) dev_tmpfs = true;
    if (!strcmp(s->mounts[i].destination, "/dev/pts") && !strcmp(s->mounts[i].type, "devpts")) devpts = true;
  }
  return devices_setup(s, dev_tmpfs, devpts, e);
}

int mounts_pivot(const struct spec *s, bool no_pivot, err_t *e) {
  _cleanup_close_ int newroot = open(s->root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0) return ts_failerr(e, "cannot open the rootfs %s", s->root);
  _cleanup_close_ int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) return ts_failerr(e, "cannot open /");
  if (fchdir(newroot) < 0) return ts_failerr(e, "cannot enter the rootfs %s", s->root);
  if (!no_pivot) {
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
      /* The old root is now stacked under the new one: detach it. */
      if (fchdir(oldroot) < 0) return ts_failerr(e, "cannot enter the old root");
      if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) return ts_failerr(e, "cannot make the old root a slave");
      if (umount2(".", MNT_DETACH) < 0) return ts_failerr(e, "cannot detach the old root");
      if (chdir("/") < 0) return ts_failerr(e, "cannot chdir to the new root");
      goto done;
    }
    if (errno != EINVAL) return ts_failerr(e, "pivot_root into %s", s->root);
  }
  /* Root on ramfs/initramfs cannot be pivoted away: move the rootfs over / and chroot. */
  if (mount(s->root, "/", NULL, MS_MOVE, NULL) < 0) return ts_failerr(e, "cannot move the rootfs %s over /", s->root);
  if (chroot(".") < 0) return ts_failerr(e, "cannot chroot into %s", s->root);
  if (chdir("/") < 0) return ts_failerr(e, "cannot chdir to the new root");
done:
  if (s->rootfs_propagation & MS_SHARED && mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
    return ts_failerr(e, "cannot set rootfs propagation");
  return 0;
}

static int mask_path(const char *p, err_t *e) {
  struct stat st;
  if (lstat(p, &st) < 0) return 0; /* nothing to hide */
  if (S_ISDIR(st.st_mode)) {
    if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0) return ts_failerr(e, "cannot mask %s", p);
  } else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0)
    return ts_failerr(e, "cannot mask %s", p);
  return 0;
}

static int readonly_path(const char *p, err_t *e) {
  if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
    if (errno == ENOENT) return 0;
    return ts_failerr(e, "cannot bind %s read-only", p);
  }
  if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | current_flags(p), NULL) < 0)
    return ts_failerr(e, "cannot remount %s read-only", p);
  return 0;
}

int mounts_finalize(const struct spec *s, err_t *e) {
  if (sysctl_apply(s, e) < 0) return -1;
  for (size_t i = 0; i < s->n_readonly; i++)
    if (readonly_path(s->readonly[i], e) < 0) return -1;
  for (size_t i = 0; i < s->n_masked; i++)
    if (mask_path(s->masked[i], e) < 0) return -1;
  if (s->root_readonly && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | current_flags("/"), NULL) < 0)
    return ts_failerr(e, "cannot make the root filesystem read-only");
  return 0;
}
