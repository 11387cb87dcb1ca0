#include "spec.h"
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "caps.h"
#include "hooks.h"

static const struct { const char *name; int flag; } ns_names[] = {
    {"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS}, {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS}, {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP},
#ifdef CLONE_NEWTIME
    {"time", CLONE_NEWTIME},
#endif
};

static const struct { const char *name; int res; } rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA}, {"RLIMIT_FSIZE", RLIMIT_FSIZE}, {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC}, {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

/* Mount options that map to flags; `clear` options remove the flag. */
static const struct { const char *name; bool clear; unsigned long flag; } mount_flags[] = {
    {"ro", false, MS_RDONLY}, {"rw", true, MS_RDONLY}, {"nosuid", false, MS_NOSUID}, {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV}, {"dev", true, MS_NODEV}, {"noexec", false, MS_NOEXEC}, {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS}, {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT}, {"mand", false, MS_MANDLOCK}, {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME}, {"atime", true, MS_NOATIME}, {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME}, {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME}, {"nolazytime", true, MS_LAZYTIME}, {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT}, {"defaults", false, 0},
};

static const struct { const char *name; unsigned long flag; } propagations[] = {
    {"private", MS_PRIVATE}, {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE}, {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static int want_string(const json *j, const char *what, char **out, err_t *e) {
  if (!j || j->type != JSON_STRING) return ts_fail(e, "%s: expected a string", what);
  *out = ts_xstrdup(j->str);
  return 0;
}

static int string_list(const json *j, const char *what, char ***out, size_t *n, err_t *e) {
  *out = ts_xmalloc(sizeof(char *));
  if (n) *n = 0;
  if (!j || j->type == JSON_NULL) return 0;
  if (j->type != JSON_ARRAY) return ts_fail(e, "%s: expected an array of strings", what);
  *out = ts_xrealloc(*out, (j->n + 1) * sizeof(char *));
  for (size_t i = 0; i < j->n; i++) {
    if (j->items[i]->type != JSON_STRING) return ts_fail(e, "%s[%zu]: expected a string", what, i);
    (*out)[i] = ts_xstrdup(j->items[i]->str);
  }
  (*out)[j->n] = NULL;
  if (n) *n = j->n;
  return 0;
}

static int cap_list(const json *j, const char *what, uint64_t *out, err_t *e) {
  *out = 0;
  if (!j || j->type == JSON_NULL) return 0;
  if (j->type != JSON_ARRAY) return ts_fail(e, "%s: expected an array of capability names", what);
  for (size_t i = 0; i < j->n; i++) {
    const char *name = json_string(j->items[i]);
    if (!name) return ts_fail(e, "%s[%zu]: expected a string", what, i);
    int c = caps_from_name(name);
    if (c < 0) continue; /* unknown to this kernel table: ignored, as runc does */
    *out |= 1ULL << c;
  }
  return 0;
}

int spec_parse_process(const json *p, struct process_spec *o, const char *where, err_t *e) {
  memset(o, 0, sizeof *o);
  o->umask = -1;
  if (!p || p->type != JSON_OBJECT) return ts_fail(e, "%s: \"process\" must be an object", where);
  bool b;
  json *v;
  if ((v = json_get(p, "terminal"))) {
    if (json_as_bool(v, &b, "process.terminal", e) < 0) return -1;
    o->terminal = b;
  }
  json *cs = json_get(p, "consoleSize");
  if (cs) {
    long long h = 0, w = 0;
    if (json_as_i64(json_get(cs, "height"), &h, "process.consoleSize.height", e) < 0 ||
        json_as_i64(json_get(cs, "width"), &w, "process.consoleSize.width", e) < 0)
      return -1;
    o->console_rows = (unsigned short)h;
    o->console_cols = (unsigned short)w;
  }
  size_t nargs;
  if (string_list(json_get(p, "args"), "process.args", &o->args, &nargs, e) < 0) return -1;
  if (nargs == 0) return ts_fail(e, "%s: process.args must name a program to run", where);
  if (string_list(json_get(p, "env"), "process.env", &o->env, NULL, e) < 0) return -1;
  if (want_string(json_get(p, "cwd"), "process.cwd", &o->cwd, e) < 0) return ts_fail(e, "%s: process.cwd is required", where);
  if (o->cwd[0] != '/') return ts_fail(e, "%s: process.cwd \"%s\" must be an absolute path", where, o->cwd);
  json *user = json_get(p, "user");
  long long n;
  if (user) {
    if ((v = json_get(user, "uid")) && (json_as_i64(v, &n, "process.user.uid", e) < 0 || n < 0)) return ts_fail(e, "%s: bad process.user.uid", where);
    if (v) o->uid = (uid_t)n;
    if ((v = json_get(user, "gid")) && (json_as_i64(v, &n, "process.user.gid", e) < 0 || n < 0)) return ts_fail(e, "%s: bad process.user.gid", where);
    if (v) o->gid = (gid_t)n;
    if ((v = json_get(user, "umask"))) {
      if (json_as_i64(v, &n, "process.user.umask", e) < 0) return -1;
      o->umask = n;
    }
    json *g = json_get(user, "additionalGids");
    if (g && g->type == JSON_ARRAY) {
      o->groups = ts_xmalloc((g->n + 1) * sizeof(gid_t));
      for (size_t i = 0; i < g->n; i++) {
        if (json_as_i64(g->items[i], &n, "process.user.additionalGids", e) < 0) return -1;
        o->groups[o->n_groups++] = (gid_t)n;
      }
    }
  }
  json *caps = json_get(p, "capabilities");
  if (caps && caps->type == JSON_OBJECT) {
    static const char *sets[CAPSET_N] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
    o->has_caps = true;
    for (int i = 0; i < CAPSET_N; i++) {
      char what[64];
      snprintf(what, sizeof what, "process.capabilities.%s", sets[i]);
      if (cap_list(json_get(caps, sets[i]), what, &o->caps[i], e) < 0) return -1;
    }
  }
  json *rl = json_get(p, "rlimits");
  if (rl && rl->type == JSON_ARRAY) {
    o->rlimits = ts_xmalloc(rl->n * sizeof *o->rlimits);
    for (size_t i = 0; i < rl->n; i++) {
      const char *type = json_string(json_get(rl->items[i], "type"));
      int res = -1;
      for (size_t k = 0; type && k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
        if (!strcmp(type, rlimit_names[k].name)) res = rlimit_names[k].res;
      if (res < 0) return ts_fail(e, "%s: process.rlimits[%zu]: unknown rlimit type \"%s\"", where, i, type ? type : "");
      struct rlimit_spec *r = &o->rlimits[o->n_rlimits++];
      r->resource = res;
      if (json_as_u64(json_get(rl->items[i], "soft"), &r->soft, "process.rlimits.soft", e) < 0) return -1;
      if (json_as_u64(json_get(rl->items[i], "hard"), &r->hard, "process.rlimits.hard", e) < 0) return -1;
    }
  }
  if ((v = json_get(p, "noNewPrivileges"))) {
    if (json_as_bool(v, &b, "process.noNewPrivileges", e) < 0) return -1;
    o->no_new_privs = b;
  }
  if ((v = json_get(p, "oomScoreAdj"))) {
    if (json_as_i64(v, &n, "process.oomScoreAdj", e) < 0) return -1;
    o->has_oom_score_adj = true;
    o->oom_score_adj = (int)n;
  }
  return 0;
}

int spec_mount_options(const json *opts, struct mount_spec *m, const char *where, err_t *e) {
  jbuf data = {0};
  if (opts && opts->type == JSON_ARRAY) {
    for (size_t i = 0; i < opts->n; i++) {
      const char *o = json_string(opts->items[i]);
      if (!o) return ts_fail(e, "%s: mount options must be strings", where);
      bool known = false;
      for (size_t k = 0; k < sizeof mount_flags / sizeof mount_flags[0] && !known; k++)
        if (!strcmp(o, mount_flags[k].name)) {
          known = true;
          if (mount_flags[k].clear) m->flags &= ~mount_flags[k].flag;
          else m->flags |= mount_flags[k].flag;
        }
      for (size_t k = 0; k < sizeof propagations / sizeof propagations[0] && !known; k++)
        if (!strcmp(o, propagations[k].name)) known = true, m->propagation = propagations[k].flag;
      if (!known && !strcmp(o, "bind")) known = true, m->bind = true;
      if (!known && !strcmp(o, "rbind")) known = true, m->bind = m->recursive = true;
      if (!known && !strcmp(o, "tmpcopyup")) known = true; /* runc extension: not supported, ignored */
      if (known) continue;
      if (data.len) jb_puts(&data, ",");
      jb_puts(&data, o);
    }
  }
  m->data = data.p;
  return 0;
}

bool spec_has_ns(const struct spec *s, int flag) { return spec_ns(s, flag) != NULL; }

const char *spec_mount_option(size_t i) {
  static const char *extra[] = {"bind", "rbind", "tmpcopyup"};
  size_t nf = sizeof mount_flags / sizeof mount_flags[0], np = sizeof propagations / sizeof propagations[0];
  if (i < nf) return mount_flags[i].name;
  if ((i -= nf) < np) return propagations[i].name;
  if ((i -= np) < sizeof extra / sizeof extra[0]) return extra[i];
  return NULL;
}
const struct ns_spec *spec_ns(const struct spec *s, int flag) {
  for (size_t i = 0; i < s->n_ns; i++)
    if (s->ns[i].flag == flag) return &s->ns[i];
  return NULL;
}

static int parse_linux_resources(const json *r, struct resources *res, err_t *e) {
  json *v, *mem = json_get(r, "memory"), *cpu = json_get(r, "cpu"), *pids = json_get(r, "pids");
  if ((v = json_get(mem, "limit"))) {
    if (json_as_i64(v, &res->mem_limit, "linux.resources.memory.limit", e) < 0) return -1;
    res->has_mem_limit = true;
  }
  if ((v = json_get(mem, "swap"))) {
    if (json_as_i64(v, &res->mem_swap, "linux.resources.memory.swap", e) < 0) return -1;
    res->has_mem_swap = true;
  }
  if ((v = json_get(mem, "reservation"))) {
    if (json_as_i64(v, &res->mem_reservation, "linux.resources.memory.reservation", e) < 0) return -1;
    res->has_mem_reservation = true;
  }
  if ((v = json_get(mem, "swappiness")) && v->type == JSON_NUMBER) {
    if (json_as_u64(v, &res->swappiness, "linux.resources.memory.swappiness", e) < 0) return -1;
    res->has_swappiness = res->swappiness <= 100;
  }
  if ((v = json_get(cpu, "shares"))) {
    if (json_as_u64(v, &res->cpu_shares, "linux.resources.cpu.shares", e) < 0) return -1;
    res->has_cpu_shares = res->cpu_shares > 0;
  }
  if ((v = json_get(cpu, "quota"))) {
    if (json_as_i64(v, &res->cpu_quota, "linux.resources.cpu.quota", e) < 0) return -1;
    res->has_cpu_quota = true;
  }
  if ((v = json_get(cpu, "period"))) {
    if (json_as_u64(v, &res->cpu_period, "linux.resources.cpu.period", e) < 0) return -1;
    res->has_cpu_period = res->cpu_period > 0;
  }
  if (json_string(json_get(cpu, "cpus")) && *json_string(json_get(cpu, "cpus"))) res->cpus = ts_xstrdup(json_string(json_get(cpu, "cpus")));
  if (json_string(json_get(cpu, "mems")) && *json_string(json_get(cpu, "mems"))) res->mems = ts_xstrdup(json_string(json_get(cpu, "mems")));
  if ((v = json_get(pids, "limit"))) {
    if (json_as_i64(v, &res->pids_limit, "linux.resources.pids.limit", e) < 0) return -1;
    res->has_pids = true;
  }
  json *devs = json_get(r, "devices");
  if (devs && devs->type == JSON_ARRAY) {
    res->devices = ts_xmalloc(devs->n * sizeof *res->devices);
    for (size_t i = 0; i < devs->n; i++) {
      json *d = devs->items[i];
      struct device_rule *dr = &res->devices[res->n_devices++];
      bool allow = false;
      if (json_as_bool(json_get(d, "allow"), &allow, "linux.resources.devices[].allow", e) < 0) return -1;
      dr->allow = allow;
      const char *t = json_string(json_get(d, "type"));
      dr->type = t && *t ? t[0] : 'a';
      dr->major = dr->minor = -1;
      if ((v = json_get(d, "major")) && v->type == JSON_NUMBER && json_as_i64(v, &dr->major, "major", e) < 0) return -1;
      if ((v = json_get(d, "minor")) && v->type == JSON_NUMBER && json_as_i64(v, &dr->minor, "minor", e) < 0) return -1;
      const char *acc = json_string(json_get(d, "access"));
      dr->access = ts_xstrdup(acc && *acc ? acc : "rwm");
    }
  }
  return 0;
}

/* linux.uidMappings / gidMappings: non-empty ranges that fit in 32 bits, at most the kernel's count. */
static int id_maps(const json *j, const char *what, struct id_map **out, size_t *n, const char *where, err_t *e) {
  *n = 0;
  if (!j) return 0;
  if (j->type != JSON_ARRAY) return ts_fail(e, "%s: %s must be a list", where, what);
  if (j->n > MAX_ID_MAPS) return ts_fail(e, "%s: %s has %zu ranges; the kernel takes at most %d", where, what, j->n, MAX_ID_MAPS);
  *out = ts_xmalloc((j->n ? j->n : 1) * sizeof **out);
  for (size_t i = 0; i < j->n; i++) {
    struct id_map *m = &(*out)[i];
    err_t ie;
    if (json_as_u64(json_get(j->items[i], "containerID"), &m->inner, "containerID", &ie) < 0 ||
        json_as_u64(json_get(j->items[i], "hostID"), &m->outer, "hostID", &ie) < 0 ||
        json_as_u64(json_get(j->items[i], "size"), &m->size, "size", &ie) < 0)
      return ts_fail(e, "%s: %s[%zu]: %s", where, what, i, ie.msg);
    if (!m->size || m->inner + m->size > 0xffffffffULL || m->outer + m->size > 0xffffffffULL)
      return ts_fail(e, "%s: %s[%zu]: the range %llu+%llu → %llu is empty or past the largest id", where, what, i, m->inner, m->size, m->outer);
    (*n)++;
  }
  return 0;
}

static int parse_linux(const json *l, struct spec *s, const char *where, err_t *e) {
  json *v;
  json *nss = json_get(l, "namespaces");
  if (nss && nss->type == JSON_ARRAY) {
    s->ns = ts_xmalloc(nss->n * sizeof *s->ns);
    for (size_t i = 0; i < nss->n; i++) {
      const char *type = json_string(json_get(nss->items[i], "type"));
      int flag = 0;
      for (size_t k = 0; type && k < sizeof ns_names / sizeof ns_names[0]; k++)
        if (!strcmp(type, ns_names[k].name)) flag = ns_names[k].flag;
      if (!flag) return ts_fail(e, "%s: linux.namespaces[%zu]: unknown namespace type \"%s\"", where, i, type ? type : "");
      if (spec_has_ns(s, flag)) return ts_fail(e, "%s: linux.namespaces: namespace type \"%s\" listed twice", where, type);
      const char *path = json_string(json_get(nss->items[i], "path"));
      s->ns[s->n_ns].flag = flag;
      s->ns[s->n_ns++].path = path && *path ? ts_xstrdup(path) : NULL;
      if (path && *path && access(path, F_OK) < 0)
        return ts_fail(e, "%s: linux.namespaces[%zu]: %s namespace path %s does not exist", where, i, type, path);
    }
  }
  if (id_maps(json_get(l, "uidMappings"), "linux.uidMappings", &s->uid_maps, &s->n_uid_maps, where, e) < 0) return -1;
  if (id_maps(json_get(l, "gidMappings"), "linux.gidMappings", &s->gid_maps, &s->n_gid_maps, where, e) < 0) return -1;
  const struct ns_spec *user = spec_ns(s, CLONE_NEWUSER);
  bool mapped = s->n_uid_maps || s->n_gid_maps;
  if (user && !user->path && (!s->n_uid_maps || !s->n_gid_maps))
    return ts_fail(e, "%s: a new user namespace needs linux.uidMappings and linux.gidMappings", where);
  if (mapped && (!user || user->path))
    return ts_fail(e, "%s: linux.uidMappings/gidMappings are only for a new user namespace (add {\"type\":\"user\"} without a path to linux.namespaces)", where);
  if (string_list(json_get(l, "maskedPaths"), "linux.maskedPaths", &s->masked, &s->n_masked, e) < 0) return -1;
  if (string_list(json_get(l, "readonlyPaths"), "linux.readonlyPaths", &s->readonly, &s->n_readonly, e) < 0) return -1;
  const char *cg = json_string(json_get(l, "cgroupsPath"));
  if (cg && *cg) s->cgroups_path = ts_xstrdup(cg);
  if ((v = json_get(l, "resources")) && parse_linux_resources(v, &s->res, e) < 0) return -1;
  json *sys = json_get(l, "sysctl");
  if (sys && sys->type == JSON_OBJECT) {
    s->sysctl_keys = ts_xmalloc(sys->n * sizeof(char *));
    s->sysctl_values = ts_xmalloc(sys->n * sizeof(char *));
    for (size_t i = 0; i < sys->n; i++) {
      if (sys->items[i]->type != JSON_STRING) return ts_fail(e, "%s: linux.sysctl.%s must be a string", where, sys->keys[i]);
      if (strstr(sys->keys[i], "..") || strchr(sys->keys[i], '/')) return ts_fail(e, "%s: bad sysctl name \"%s\"", where, sys->keys[i]);
      s->sysctl_keys[s->n_sysctl] = ts_xstrdup(sys->keys[i]);
      s->sysctl_values[s->n_sysctl++] = ts_xstrdup(sys->items[i]->str);
    }
  }
  const char *rp = json_string(json_get(l, "rootfsPropagation"));
  if (rp && *rp) {
    for (size_t k = 0; k < sizeof propagations / sizeof propagations[0]; k++)
      if (!strcmp(rp, propagations[k].name)) s->rootfs_propagation = propagations[k].flag;
    if (!s->rootfs_propagation) return ts_fail(e, "%s: unknown linux.rootfsPropagation \"%s\"", where, rp);
  }
  json *sec = json_get(l, "seccomp");
  if (sec && sec->type == JSON_OBJECT) {
    s->seccomp = ts_xmalloc(sizeof *s->seccomp);
    err_t se;
    if (seccomp_compile(sec, s->seccomp, where, &se) < 0) return ts_fail(e, "%s: %s", where, se.msg);
  }
  json *devs = json_get(l, "devices");
  if (devs && devs->type == JSON_ARRAY) {
    s->devices = ts_xmalloc(devs->n * sizeof *s->devices);
    for (size_t i = 0; i < devs->n; i++) {
      json *d = devs->items[i];
      struct device_spec *ds = &s->devices[s->n_devices++];
      long long n;
      if (want_string(json_get(d, "path"), "linux.devices[].path", &ds->path, e) < 0) return -1;
      const char *t = json_string(json_get(d, "type"));
      if (!t || !strchr("cbup", t[0]) || t[1]) return ts_fail(e, "%s: linux.devices[%zu]: bad type", where, i);
      ds->type = t[0];
      if ((v = json_get(d, "major")) && json_as_i64(v, &ds->major, "linux.devices[].major", e) < 0) return -1;
      if ((v = json_get(d, "minor")) && json_as_i64(v, &ds->minor, "linux.devices[].minor", e) < 0) return -1;
      ds->mode = 0666;
      if ((v = json_get(d, "fileMode")) && json_as_i64(v, &n, "fileMode", e) == 0) ds->mode = (unsigned)n & 07777;
      if ((v = json_get(d, "uid")) && json_as_i64(v, &n, "uid", e) == 0) ds->uid = (uid_t)n;
      if ((v = json_get(d, "gid")) && json_as_i64(v, &n, "gid", e) == 0) ds->gid = (gid_t)n;
    }
  }
  return 0;
}

const char *const hook_names[HOOK_KINDS] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};

static int parse_hooks(const json *hooks, struct spec *s, const char *where, err_t *e) {
  for (int k = 0; k < HOOK_KINDS; k++) {
    json *list = json_get(hooks, hook_names[k]);
    if (!list || list->type != JSON_ARRAY) continue;
    s->hooks[k] = ts_xmalloc(list->n * sizeof(struct hook));
    for (size_t i = 0; i < list->n; i++) {
      struct hook *h = &s->hooks[k][s->n_hooks[k]++];
      const char *path = json_string(json_get(list->items[i], "path"));
      if (!path || path[0] != '/') return ts_fail(e, "%s: hooks.%s[%zu].path must be an absolute path", where, hook_names[k], i);
      h->path = ts_xstrdup(path);
      if (string_list(json_get(list->items[i], "args"), "hooks.args", &h->args, NULL, e) < 0) return -1;
      if (!h->args[0]) {
        h->args = ts_xrealloc(h->args, 2 * sizeof(char *));
        h->args[0] = h->path;
        h->args[1] = NULL;
      }
      if (string_list(json_get(list->items[i], "env"), "hooks.env", &h->env, NULL, e) < 0) return -1;
      long long t = 0;
      json *tv = json_get(list->items[i], "timeout");
      if (tv && (json_as_i64(tv, &t, "hooks.timeout", e) < 0 || t <= 0)) return ts_fail(e, "%s: hooks.%s[%zu].timeout must be a positive number of seconds", where, hook_names[k], i);
      h->timeout = (long)t;
    }
  }
  return 0;
}

int spec_load(const char *bundle, struct spec *s, err_t *e) {
  memset(s, 0, sizeof *s);
  char abs[PATH_MAX];
  if (!realpath(bundle, abs)) return ts_failerr(e, "bundle %s", bundle);
  s->bundle = ts_xstrdup(abs);
  _cleanup_free_ char *where = ts_xasprintf("%s/config.json", s->bundle);
  _cleanup_free_ char *text = NULL;
  size_t len;
  if (ts_read_file(where, &text, &len, e) < 0) return -1;
  err_t pe;
  s->doc = json_parse(text, len, &pe);
  if (!s->doc) return ts_fail(e, "%s: malformed JSON: %s", where, pe.msg);
  if (s->doc->type != JSON_OBJECT) return ts_fail(e, "%s: expected a JSON object", where);
  const char *ver = json_string(json_get(s->doc, "ociVersion"));
  if (!ver) return ts_fail(e, "%s: \"ociVersion\" is required", where);
  s->oci_version = ts_xstrdup(ver);
  json *root = json_get(s->doc, "root");
  const char *rpath = json_string(json_get(root, "path"));
  if (!rpath || !*rpath) return ts_fail(e, "%s: \"root.path\" is required", where);
  s->root = rpath[0] == '/' ? ts_xstrdup(rpath) : ts_xasprintf("%s/%s", s->bundle, rpath);
  struct stat st;
  if (stat(s->root, &st) < 0) return ts_failerr(e, "%s: root.path %s", where, s->root);
  if (!S_ISDIR(st.st_mode)) return ts_fail(e, "%s: root.path %s is not a directory", where, s->root);
  char rabs[PATH_MAX];
  if (realpath(s->root, rabs)) free(s->root), s->root = ts_xstrdup(rabs);
  bool b;
  json *v;
  if ((v = json_get(root, "readonly"))) {
    if (json_as_bool(v, &b, "root.readonly", e) < 0) return -1;
    s->root_readonly = b;
  }
  json *proc = json_get(s->doc, "process");
  if (proc) {
    s->has_process = true;
    _cleanup_free_ char *w = ts_xstrdup(where);
    if (spec_parse_process(proc, &s->proc, w, e) < 0) {
      if (strncmp(e->msg, where, strlen(where))) {
        err_t tmp = *e;
        ts_fail(e, "%s: %s", where, tmp.msg);
      }
      return -1;
    }
  }
  const char *h = json_string(json_get(s->doc, "hostname"));
  if (h && *h) s->hostname = ts_xstrdup(h);
  h = json_string(json_get(s->doc, "domainname"));
  if (h && *h) s->domainname = ts_xstrdup(h);
  json *mounts = json_get(s->doc, "mounts");
  if (mounts && mounts->type == JSON_ARRAY) {
    s->mounts = ts_xmalloc(mounts->n * sizeof *s->mounts);
    for (size_t i = 0; i < mounts->n; i++) {
      json *m = mounts->items[i];
      struct mount_spec *ms = &s->mounts[s->n_mounts++];
      const char *d = json_string(json_get(m, "destination"));
      if (!d || d[0] != '/') return ts_fail(e, "%s: mounts[%zu]: destination must be an absolute path", where, i);
      ms->destination = ts_xstrdup(d);
      const char *t = json_string(json_get(m, "type"));
      ms->type = ts_xstrdup(t ? t : "");
      if (spec_mount_options(json_get(m, "options"), ms, where, e) < 0) return -1;
      if (!strcmp(ms->type, "bind")) ms->bind = true;
      /* A relative bind source is relative to the bundle; for other types the
       * source is a label ("proc", "tmpfs") and kept as written. */
      const char *src = json_string(json_get(m, "source"));
      if (!src) ms->source = ts_xstrdup(ms->type);
      else if (ms->bind && src[0] != '/') ms->source = ts_xasprintf("%s/%s", s->bundle, src);
      else ms->source = ts_xstrdup(src);
    }
  }
  json *linux_ = json_get(s->doc, "linux");
  if (linux_ && parse_linux(linux_, s, where, e) < 0) return -1;
  if (!spec_has_ns(s, CLONE_NEWNS) && s->n_mounts) return ts_fail(e, "%s: a \"mount\" namespace is required to set up mounts", where);
  s->annotations = json_get(s->doc, "annotations");
  json *hooks = json_get(s->doc, "hooks");
  if (hooks && parse_hooks(hooks, s, where, e) < 0) return -1;
  return 0;
}
