#include "devices.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "rootpath.h"

static const struct { const char *path; unsigned major, minor; } std_devices[] = {
    {"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static const struct { const char *link, *target; } std_links[] = {
    {"/dev/fd", "/proc/self/fd"}, {"/dev/stdin", "/proc/self/fd/0"},
    {"/dev/stdout", "/proc/self/fd/1"}, {"/dev/stderr", "/proc/self/fd/2"},
};

static int make_node(const struct spec *s, const char *path, char type, unsigned major, unsigned minor, unsigned mode, uid_t uid, gid_t gid, err_t *e) {
  _cleanup_free_ char *full = NULL;
  if (rootpath_resolve(s->root, path, &full, e) < 0) return -1;
  _cleanup_free_ char *parent = ts_xstrdup(full);
  *strrchr(parent, '/') = 0;
  if (ts_mkdir_p(parent, 0755, e) < 0) return -1;
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  if (mknod(full, kind | (mode & 07777), makedev(major, minor)) < 0) {
    if (errno == EEXIST) return 0;
    if (errno != EPERM) return ts_failerr(e, "cannot create device %s", path);
    /* mknod refused (e.g. no CAP_MKNOD): bind the host's node instead. */
    int fd = open(full, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ts_failerr(e, "cannot create %s", path);
    close(fd);
    if (mount(path, full, NULL, MS_BIND, NULL) < 0) return ts_failerr(e, "cannot bind device %s", path);
    return 0;
  }
  if (chown(full, uid, gid) < 0) return ts_failerr(e, "cannot chown device %s", path);
  return 0;
}

int devices_setup(const struct spec *s, bool dev_tmpfs, bool devpts, err_t *e) {
  mode_t old = umask(0);
  int rc = -1;
  if (dev_tmpfs) {
    for (size_t i = 0; i < sizeof std_devices / sizeof std_devices[0]; i++)
      if (make_node(s, std_devices[i].path, 'c', std_devices[i].major, std_devices[i].minor, 0666, 0, 0, e) < 0) goto out;
  }
  for (size_t i = 0; i < s->n_devices; i++) {
    const struct device_spec *d = &s->devices[i];
    if (make_node(s, d->path, d->type == 'u' ? 'c' : d->type, (unsigned)d->major, (unsigned)d->minor, d->mode, d->uid, d->gid, e) < 0) goto out;
  }
  if (dev_tmpfs) {
    for (size_t i = 0; i < sizeof std_links / sizeof std_links[0]; i++) {
      _cleanup_free_ char *full = ts_xasprintf("%s%s", s->root, std_links[i].link);
      if (symlink(std_links[i].target, full) < 0 && errno != EEXIST) {
        ts_failerr(e, "cannot create symlink %s", std_links[i].link);
        goto out;
      }
    }
    if (access("/proc/kcore", F_OK) == 0) {
      _cleanup_free_ char *core = ts_xasprintf("%s/dev/core", s->root);
      if (symlink("/proc/kcore", core) < 0 && errno != EEXIST) {
        ts_failerr(e, "cannot create symlink /dev/core");
        goto out;
      }
    }
    _cleanup_free_ char *shm = ts_xasprintf("%s/dev/shm", s->root);
    if (mkdir(shm, 01777) < 0 && errno != EEXIST) {
      ts_failerr(e, "cannot create /dev/shm");
      goto out;
    }
  }
  if (devpts) {
    _cleanup_free_ char *ptmx = ts_xasprintf("%s/dev/ptmx", s->root);
    if (unlink(ptmx) < 0 && errno != ENOENT) {
      ts_failerr(e, "cannot remove /dev/ptmx");
      goto out;
    }
    if (symlink("pts/ptmx", ptmx) < 0) {
      ts_failerr(e, "cannot link /dev/ptmx to pts/ptmx");
      goto out;
    }
  }
  rc = 0;
out:
  umask(old);
  return rc;
}
