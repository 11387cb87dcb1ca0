#include "cgroups.h"
#include "devfilter.h"
#include "namespaces.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

struct hier { char ctl[256]; char mount[512]; };

static bool has_ctl(const char *list, const char *ctl) {
  size_t n = strlen(ctl);
  for (const char *p = list; (p = strstr(p, ctl)); p += n)
    if ((p == list || p[-1] == ',' || p[-1] == ' ') && (p[n] == 0 || p[n] == ',' || p[n] == ' ' || p[n] == '\n')) return true;
  return false;
}

static size_t v1_scan(struct hier *out, size_t max);

/* The v1 hierarchies (controllers + mount point) from mountinfo, read once per process: the
 * cgroups are made from it before the clone, and the container's /sys/fs/cgroup is mounted from
 * it after (the child has the parent's copy). The kernel renders every mount of the namespace for
 * a read, each container's overlay with its layers: the two reads were a fifth of the runtime's CPU
 * in an `up` of 20 here, and grow with the number of containers running. */
static size_t v1_hierarchies(struct hier *out, size_t max) {
  static struct hier cache[CG_MAX];
  static size_t cached = SIZE_MAX;
  if (cached == SIZE_MAX) cached = v1_scan(cache, CG_MAX);
  size_t n = cached < max ? cached : max;
  memcpy(out, cache, n * sizeof *out);
  return n;
}

static size_t v1_scan(struct hier *out, size_t max) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return 0;
  char *line = NULL;
  size_t cap = 0, n = 0;
  while (getline(&line, &cap, f) > 0 && n < max) {
    char *sep = strstr(line, " - ");
    if (!sep) continue;
    char fstype[64], src[256], opts[512], root[512], mnt[512];
    if (sscanf(sep + 3, "%63s %255s %511s", fstype, src, opts) != 3 || strcmp(fstype, "cgroup")) continue;
    if (sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2) continue;
    jbuf ctl = {0};
    for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ",")) {
      static const char *skip[] = {"rw", "ro", "relatime", "noexec", "nosuid", "nodev", "xattr", "clone_children", NULL};
      bool s = false;
      for (int i = 0; skip[i]; i++) s |= !strcmp(tok, skip[i]);
      if (s || !strncmp(tok, "release_agent=", 14)) continue;
      if (ctl.len) jb_puts(&ctl, ",");
      jb_puts(&ctl, tok);
    }
    if (!ctl.p) continue;
    bool dup = false;
    for (size_t i = 0; i < n; i++) dup |= !strcmp(out[i].ctl, ctl.p);
    if (!dup) {
      snprintf(out[n].ctl, sizeof out[n].ctl, "%s", ctl.p);
      snprintf(out[n].mount, sizeof out[n].mount, "%s", mnt);
      n++;
    }
    jb_free(&ctl);
  }
  free(line);
  fclose(f);
  return n;
}

static bool is_cgroup2(const char *path) {
  struct statfs sf;
  return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

static void record(struct cg_dirs *d, const char *dir) {
  if (d->n_created < sizeof d->created / sizeof d->created[0]) d->created[d->n_created++] = ts_xstrdup(dir);
}

static bool blank(const char *s) {
  for (; s && *s; s++)
    if (*s != ' ' && *s != '\n' && *s != '\t') return false;
  return true;
}

/* A new v1 cpuset starts empty and refuses tasks: it inherits its parent's.
 * Called top-down for every level, made here or found: a level another process
 * has just made may still be empty, and a child copied from it would be too. */
static int cpuset_inherit(const char *dir, err_t *e) {
  _cleanup_free_ char *parent = ts_xstrdup(dir);
  *strrchr(parent, '/') = 0;
  static const char *files[] = {"cpuset.cpus", "cpuset.mems"};
  for (int i = 0; i < 2; i++) {
    _cleanup_free_ char *from = ts_xasprintf("%s/%s", parent, files[i]), *to = ts_xasprintf("%s/%s", dir, files[i]);
    _cleanup_free_ char *value = NULL, *own = NULL;
    if (ts_read_file(to, &own, NULL, e) < 0) return -1;
    if (!blank(own)) continue;
    if (ts_read_file(from, &value, NULL, e) < 0 || ts_write_existing(to, value, e) < 0) return -1;
  }
  return 0;
}

/* How often a walk starts over when a level vanishes under it. Another process
 * may remove an empty shared level as fast as it can (the engine does when its
 * last container goes): each new walk waits a little longer (0.2 ms more each
 * time, ~0.5 s in all at the most), so a busy machine cannot exhaust the walks. */
#define MAX_WALKS 70
static void walk_pause(int attempt) { usleep(200 * (useconds_t)attempt); }

/* mkdir -p of rel below root, recording each dir it makes. ENOENT means a
 * parent vanished under a concurrent delete: the walk starts over. Only once
 * the whole path stands are v1 cpusets filled in, top-down: a level with a child
 * cannot be removed (EBUSY), so a shared parent that another process removes as
 * soon as it is empty no longer goes between its filling and its child's. */
static int make_path(struct cg_dirs *d, const char *root, const char *rel, bool cpuset, err_t *e) {
  _cleanup_free_ char *p = ts_xasprintf("%s/%s", root, rel);
  for (int attempt = 0;; attempt++) {
    bool vanished = false;
    for (char *s = p + strlen(root) + 1; !vanished; s++) {
      if (*s != '/' && *s != 0) continue;
      char c = *s;
      *s = 0;
      bool made = mkdir(p, 0755) == 0;
      if (made) record(d, p);
      if (!made && errno == ENOENT && attempt < MAX_WALKS) vanished = true;
      else if (!made && errno != EEXIST) return ts_failerr(e, "cannot create cgroup %s", p);
      *s = c;
      if (!c) break;
    }
    if (vanished) {
      walk_pause(attempt + 1);
      continue;
    }
    if (!cpuset) return 0;
    bool refill = false;
    for (char *s = p + strlen(root) + 1; !refill; s++) {
      if (*s != '/' && *s != 0) continue;
      char c = *s;
      *s = 0;
      /* (a level removed all the same, by someone who moved our leaf away: start over, a few times) */
      if (cpuset_inherit(p, e) < 0) {
        if (attempt >= MAX_WALKS) return -1;
        refill = true;
      }
      *s = c;
      if (!c) break;
    }
    if (!refill) return 0;
    walk_pause(attempt + 1);
  }
}

static int v1_write(const char *dir, const char *file, const char *value, err_t *e) {
  _cleanup_free_ char *path = ts_xasprintf("%s/%s", dir, file);
  return ts_write_existing(path, value, e);
}

/* One rule to a devices.allow or devices.deny file, opened at its first rule and kept open in *fd. */
static int v1_rule(int *fd, const char *path, const char *rule, err_t *e) {
  if (*fd < 0 && (*fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) return ts_failerr(e, "cannot open %s", path);
  if (ts_write_all(*fd, rule, strlen(rule)) < 0) return ts_failerr(e, "cannot write '%s' to %s", rule, path);
  return 0;
}

static int v1_apply(const struct cg_dirs *d, const struct resources *r, err_t *e) {
  char v[128];
  for (size_t i = 0; i < d->n_leaves; i++) {
    const char *ctl = d->leaf_ctl[i], *dir = d->leaves[i];
    if (has_ctl(ctl, "memory")) {
      if (r->has_mem_limit) {
        snprintf(v, sizeof v, "%lld", r->mem_limit > 0 ? r->mem_limit : -1);
        if (v1_write(dir, "memory.limit_in_bytes", v, e) < 0) return -1;
      }
      if (r->has_mem_swap) {
        _cleanup_free_ char *f = ts_xasprintf("%s/memory.memsw.limit_in_bytes", dir);
        snprintf(v, sizeof v, "%lld", r->mem_swap > 0 ? r->mem_swap : -1);
        if (access(f, F_OK) == 0 && ts_write_existing(f, v, e) < 0) return -1;
      }
      if (r->has_mem_reservation) {
        snprintf(v, sizeof v, "%lld", r->mem_reservation > 0 ? r->mem_reservation : -1);
        if (v1_write(dir, "memory.soft_limit_in_bytes", v, e) < 0) return -1;
      }
      if (r->has_swappiness) {
        snprintf(v, sizeof v, "%llu", r->swappiness);
        if (v1_write(dir, "memory.swappiness", v, e) < 0) return -1;
      }
    }
    if (has_ctl(ctl, "cpu")) {
      if (r->has_cpu_shares) {
        snprintf(v, sizeof v, "%llu", r->cpu_shares);
        if (v1_write(dir, "cpu.shares", v, e) < 0) return -1;
      }
      if (r->has_cpu_period) {
        snprintf(v, sizeof v, "%llu", r->cpu_period);
        if (v1_write(dir, "cpu.cfs_period_us", v, e) < 0) return -1;
      }
      if (r->has_cpu_quota) {
        snprintf(v, sizeof v, "%lld", r->cpu_quota > 0 ? r->cpu_quota : -1);
        if (v1_write(dir, "cpu.cfs_quota_us", v, e) < 0) return -1;
      }
    }
    if (has_ctl(ctl, "cpuset")) {
      if (r->cpus && v1_write(dir, "cpuset.cpus", r->cpus, e) < 0) return -1;
      if (r->mems && v1_write(dir, "cpuset.mems", r->mems, e) < 0) return -1;
    }
    if (has_ctl(ctl, "pids") && r->has_pids) {
      if (r->pids_limit > 0) snprintf(v, sizeof v, "%lld", r->pids_limit);
      else snprintf(v, sizeof v, "max");
      if (v1_write(dir, "pids.max", v, e) < 0) return -1;
    }
    if (has_ctl(ctl, "devices")) {
      /* One descriptor per file for all the rules: the kernel takes each write(2) as one rule, and an open
       * of a cgroup file (its path walked, its kernfs state made) cost more than the write (~25 us here,
       * 23 rules a container). */
      _cleanup_free_ char *allow_path = ts_xasprintf("%s/devices.allow", dir);
      _cleanup_free_ char *deny_path = ts_xasprintf("%s/devices.deny", dir);
      _cleanup_close_ int allow = -1;
      _cleanup_close_ int deny = -1;
      for (size_t k = 0; k < r->n_devices; k++) {
        const struct device_rule *dr = &r->devices[k];
        char maj[24] = "*", min[24] = "*";
        if (dr->major >= 0) snprintf(maj, sizeof maj, "%lld", dr->major);
        if (dr->minor >= 0) snprintf(min, sizeof min, "%lld", dr->minor);
        if (dr->type == 'a') snprintf(v, sizeof v, "a *:* %s", dr->access);
        else snprintf(v, sizeof v, "%c %s:%s %s", dr->type, maj, min, dr->access);
        if (v1_rule(dr->allow ? &allow : &deny, dr->allow ? allow_path : deny_path, v, e) < 0) return -1;
      }
      /* The nodes every container gets (as runc does), whatever the rules say. */
      static const char *always[] = {"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm",
                                     "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm", "c *:* m", "b *:* m", NULL};
      for (int k = 0; r->n_devices && always[k]; k++)
        if (v1_rule(&allow, allow_path, always[k], e) < 0) return -1;
    }
  }
  return 0;
}

/* Enables the controllers the limits need in every ancestor's subtree_control. */
static void v2_enable(const char *root, const char *rel, bool fake) {
  _cleanup_free_ char *avail = NULL;
  _cleanup_free_ char *cf = ts_xasprintf("%s/cgroup.controllers", root);
  err_t ignored;
  if (ts_read_file(cf, &avail, NULL, &ignored) < 0) return;
  jbuf want = {0};
  static const char *ctls[] = {"cpu", "cpuset", "memory", "pids", "io", "hugetlb", NULL};
  for (int i = 0; ctls[i]; i++)
    if (has_ctl(avail, ctls[i])) jb_printf(&want, "%s+%s", want.len ? " " : "", ctls[i]);
  if (!want.p) return;
  /* Ancestors: root, root/a, root/a/b … up to (not including) the leaf. */
  _cleanup_free_ char *p = ts_xasprintf("%s/%s", root, rel);
  size_t rootlen = strlen(root);
  char *last = strrchr(p, '/');
  for (char *s = p + rootlen; s && s <= last; s = strchr(s + 1, '/')) {
    char c = *s;
    *s = 0;
    _cleanup_free_ char *sc = ts_xasprintf("%s/cgroup.subtree_control", p);
    *s = c;
    int fd = open(sc, O_WRONLY | O_CLOEXEC | (fake ? O_CREAT | O_APPEND : 0), 0644);
    if (fd < 0) continue;
    if (fake) {
      ts_write_all(fd, want.p, want.len);
      ts_write_all(fd, "\n", 1);
    } else {
      /* One at a time: an unavailable controller must not block the rest. */
      for (char *tok = want.p; tok && *tok;) {
        char *sp = strchr(tok, ' ');
        size_t n = sp ? (size_t)(sp - tok) : strlen(tok);
        if (write(fd, tok, n) < 0) { /* best effort */ }
        tok = sp ? sp + 1 : NULL;
      }
    }
    close(fd);
  }
  jb_free(&want);
}

int cg_create(const char *path, const struct resources *res, struct cg_dirs *d, err_t *e) {
  memset(d, 0, sizeof *d);
  while (*path == '/') path++;
  if (!*path) return ts_fail(e, "linux.cgroupsPath must not be the hierarchy root");
  if (!strcmp(path, "..") || strstr(path, "../") || (strlen(path) > 2 && !strcmp(path + strlen(path) - 3, "/..")))
    return ts_fail(e, "linux.cgroupsPath \"%s\" must not contain \"..\"", path);
  const char *fake = getenv("TSSTACK_CGROUP2_ROOT");
  /* Rootless (a user namespace, or not root): only a cgroup v2 subtree can be delegated to a user
   * (v1 hierarchies are never safe to hand over), so on a hybrid host the unified tree alone is used,
   * and no device filter is attached (loading it needs CAP_SYS_ADMIN on the host; the user namespace
   * already refuses mknod, as in runc's rootless mode). */
  bool rootless = ns_in_user_ns() || geteuid() != 0;
  const char *v2root = fake && *fake ? fake : is_cgroup2("/sys/fs/cgroup") ? "/sys/fs/cgroup"
                       : rootless && is_cgroup2("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : NULL;
  if (v2root) {
    const char *root = v2root;
    d->v2 = true;
    d->fake = fake && *fake;
    if (make_path(d, root, path, false, e) < 0) goto fail;
    d->leaves[0] = ts_xasprintf("%s/%s", root, path);
    d->leaf_ctl[0] = ts_xstrdup("");
    d->n_leaves = 1;
    v2_enable(root, path, d->fake);
    if (cg2_apply(d->leaves[0], res, d->fake, e) < 0) goto fail;
    if (!d->fake && !rootless && devfilter_attach(d->leaves[0], res, e) < 0) goto fail;
    return 0;
  }
  struct hier h[CG_MAX];
  size_t n = v1_hierarchies(h, CG_MAX - 1);
  if (n == 0) return ts_fail(e, "no cgroup hierarchy is mounted under /sys/fs/cgroup");
  for (size_t i = 0; i < n; i++) {
    if (make_path(d, h[i].mount, path, has_ctl(h[i].ctl, "cpuset"), e) < 0) goto fail;
    d->leaves[d->n_leaves] = ts_xasprintf("%s/%s", h[i].mount, path);
    d->leaf_ctl[d->n_leaves++] = ts_xstrdup(h[i].ctl);
  }
  if (is_cgroup2("/sys/fs/cgroup/unified")) { /* hybrid: also place in the v2 tree */
    if (make_path(d, "/sys/fs/cgroup/unified", path, false, e) < 0) goto fail;
    d->leaves[d->n_leaves] = ts_xasprintf("/sys/fs/cgroup/unified/%s", path);
    d->leaf_ctl[d->n_leaves++] = ts_xstrdup("");
  }
  if (v1_apply(d, res, e) < 0) goto fail;
  return 0;
fail:;
  int saved = errno; /* the caller tells a refusal (EACCES) from other failures */
  err_t ignored;
  cg_destroy(d, &ignored);
  errno = saved;
  return -1;
}

int cg_enter_self_v1(const struct cg_dirs *d, err_t *e) {
  for (size_t i = 0; i < d->n_leaves; i++) {
    if (!d->leaf_ctl[i][0]) continue;
    _cleanup_free_ char *f = ts_xasprintf("%s/tasks", d->leaves[i]);
    if (ts_write_existing(f, "0", e) < 0) return -1;
  }
  return 0;
}

const char *cg_v2_leaf(const struct cg_dirs *d) {
  if (d->fake) return NULL;
  for (size_t i = 0; i < d->n_leaves; i++)
    if (!d->leaf_ctl[i][0]) return d->leaves[i];
  return NULL;
}

int cg_enter(const struct cg_dirs *d, pid_t pid, err_t *e) {
  char v[32];
  snprintf(v, sizeof v, "%d", (int)pid);
  for (size_t i = 0; i < d->n_leaves; i++) {
    _cleanup_free_ char *f = ts_xasprintf("%s/cgroup.procs", d->leaves[i]);
    if (d->fake) {
      _cleanup_close_ int fd = open(f, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0 || ts_write_all(fd, v, strlen(v)) < 0) return ts_failerr(e, "cannot write %s", f);
      continue;
    }
    if (ts_write_existing(f, v, e) < 0) return -1;
  }
  return 0;
}

int cg_destroy(const struct cg_dirs *d, err_t *e) {
  int rc = 0;
  for (size_t k = d->n_created; k-- > 0;) {
    const char *dir = d->created[k];
    bool leaf = false;
    for (size_t i = 0; i < d->n_leaves; i++) leaf |= !strcmp(d->leaves[i], dir);
    for (int attempt = 0;; attempt++) {
      if (rmdir(dir) == 0 || errno == ENOENT) break;
      if (d->fake && errno == ENOTEMPTY) {
        ts_rm_rf(dir); /* a tmpfs stand-in keeps the files we wrote */
        break;
      }
      /* A parent we made that other containers now use: theirs to leave. */
      if (!leaf && (errno == ENOTEMPTY || errno == EBUSY)) break;
      if (errno == ENOTEMPTY) break;
      /* Its last process is still exiting: a killed command's container on a loaded machine
       * took over a second here (faults/crash at load ~15), so wait up to 5 s. */
      if (errno == EBUSY && attempt < 500) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        continue;
      }
      rc = ts_failerr(e, "cannot remove cgroup %s", dir);
      break;
    }
  }
  return rc;
}

int cg_pids(const struct cg_dirs *d, pid_t **out, size_t *n, err_t *e) {
  *out = NULL;
  *n = 0;
  const char *dir = NULL;
  static const char *prefer[] = {"pids", "freezer", "memory", "cpu", NULL};
  for (int p = 0; prefer[p] && !dir; p++)
    for (size_t i = 0; i < d->n_leaves && !dir; i++)
      if (has_ctl(d->leaf_ctl[i], prefer[p])) dir = d->leaves[i];
  if (!dir && d->n_leaves) dir = d->leaves[0];
  if (!dir) return 0;
  _cleanup_free_ char *f = ts_xasprintf("%s/cgroup.procs", dir), *text = NULL;
  if (ts_read_file(f, &text, NULL, e) < 0) return errno == ENOENT ? 0 : -1;
  size_t cap = 16;
  *out = ts_xmalloc(cap * sizeof(pid_t));
  for (char *tok = strtok(text, "\n"); tok; tok = strtok(NULL, "\n")) {
    if (*n == cap) *out = ts_xrealloc(*out, (cap *= 2) * sizeof(pid_t));
    (*out)[(*n)++] = (pid_t)atoi(tok);
  }
  return 0;
}

void cg_dirs_free(struct cg_dirs *d) {
  for (size_t i = 0; i < d->n_leaves; i++) free(d->leaves[i]), free(d->leaf_ctl[i]);
  for (size_t i = 0; i < d->n_created; i++) free(d->created[i]);
  memset(d, 0, sizeof *d);
}

size_t cg_v1_hierarchies(char ctl[][256], char mount[][512], size_t max) {
  struct hier h[CG_MAX];
  size_t n = v1_hierarchies(h, max < CG_MAX ? max : CG_MAX);
  for (size_t i = 0; i < n; i++) {
    memcpy(ctl[i], h[i].ctl, sizeof h[i].ctl);
    memcpy(mount[i], h[i].mount, sizeof h[i].mount);
  }
  return n;
}

/* The file that freezes the container and its "frozen" value, per layout. */
static const char *freezer_dir(const struct cg_dirs *d, bool *v2) {
  for (size_t i = 0; i < d->n_leaves; i++)
    if (has_ctl(d->leaf_ctl[i], "freezer")) {
      *v2 = false;
      return d->leaves[i];
    }
  *v2 = true;
  return d->v2 && d->n_leaves ? d->leaves[0] : NULL;
}

bool cg_frozen(const struct cg_dirs *d) {
  bool v2;
  const char *dir = freezer_dir(d, &v2);
  if (!dir || d->fake) return false;
  _cleanup_free_ char *f = ts_xasprintf("%s/%s", dir, v2 ? "cgroup.freeze" : "freezer.state"), *text = NULL;
  err_t ignored;
  if (ts_read_file(f, &text, NULL, &ignored) < 0) return false;
  return v2 ? text[0] == '1' : !strncmp(text, "FROZEN", 6);
}

int cg_freeze(const struct cg_dirs *d, bool freeze, err_t *e) {
  bool v2;
  const char *dir = freezer_dir(d, &v2);
  if (!dir) return ts_fail(e, "the container has no freezer cgroup");
  _cleanup_free_ char *f = ts_xasprintf("%s/%s", dir, v2 ? "cgroup.freeze" : "freezer.state");
  const char *want = v2 ? (freeze ? "1" : "0") : (freeze ? "FROZEN" : "THAWED");
  if (ts_write_existing(f, want, e) < 0) return -1;
  /* v1 passes through FREEZING; v2 reports completion in cgroup.events. */
  _cleanup_free_ char *check = v2 ? ts_xasprintf("%s/cgroup.events", dir) : ts_xstrdup(f);
  for (int i = 0; i < 500; i++) {
    _cleanup_free_ char *text = NULL;
    if (ts_read_file(check, &text, NULL, e) < 0) return -1;
    bool done = v2 ? (strstr(text, freeze ? "frozen 1" : "frozen 0") != NULL) : !strncmp(text, want, strlen(want));
    if (done) return 0;
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return ts_fail(e, "the container did not become %s within 1 s", freeze ? "frozen" : "thawed");
}
