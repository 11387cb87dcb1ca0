#include "process.h"
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "caps.h"
#include "seccomp.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int proc_apply_rlimits(const struct process_spec *p, err_t *e) {
  for (size_t i = 0; i < p->n_rlimits; i++) {
    struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
    if (setrlimit(p->rlimits[i].resource, &rl) < 0)
      return ts_failerr(e, "cannot set rlimit %d to %llu/%llu", p->rlimits[i].resource, p->rlimits[i].soft, p->rlimits[i].hard);
  }
  return 0;
}

static const char *env_get(char *const env[], const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; env && env[i]; i++)
    if (!strncmp(env[i], key, n) && env[i][n] == '=') return env[i] + n + 1;
  return NULL;
}

static char *home_of(uid_t uid) {
  FILE *f = fopen("/etc/passwd", "re");
  char *line = NULL, *home = NULL;
  size_t cap = 0;
  while (f && getline(&line, &cap, f) > 0) {
    char *fields[7] = {0};
    int n = 0;
    for (char *s = line, *tok; n < 7 && (tok = strsep(&s, ":\n"));) fields[n++] = tok;
    if (n >= 6 && fields[2] && (uid_t)strtoul(fields[2], NULL, 10) == uid) {
      home = ts_xstrdup(fields[5]);
      break;
    }
  }
  free(line);
  if (f) fclose(f);
  return home ? home : ts_xstrdup("/");
}

char **proc_env(const struct process_spec *p) {
  size_t n = 0;
  while (p->env && p->env[n]) n++;
  char **env = ts_xmalloc((n + 3) * sizeof(char *));
  memcpy(env, p->env, n * sizeof(char *));
  if (!env_get(p->env, "HOME")) {
    _cleanup_free_ char *home = home_of(p->uid);
    env[n++] = ts_xasprintf("HOME=%s", home);
  }
  env[n] = NULL;
  return env;
}

int proc_find_exe(const struct process_spec *p, char *const env[], char **out, err_t *e) {
  const char *name = p->args[0];
  struct stat st;
  if (strchr(name, '/')) {
    if (stat(name, &st) < 0) return ts_failerr(e, "exec: \"%s\"", name);
    *out = ts_xstrdup(name);
    return 0;
  }
  const char *path = env_get(env, "PATH");
  _cleanup_free_ char *dirs = ts_xstrdup(path ? path : DEFAULT_PATH);
  for (char *s = dirs, *d; (d = strsep(&s, ":"));) {
    _cleanup_free_ char *cand = ts_xasprintf("%s/%s", *d ? d : ".", name);
    if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
      *out = ts_xstrdup(cand);
      return 0;
    }
  }
  return ts_fail(e, "exec: \"%s\": executable file not found in $PATH", name);
}

int proc_apply_identity(const struct process_spec *p, err_t *e) {
  if (p->has_caps && caps_apply_bounding(p->caps, e) < 0) return -1;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return ts_failerr(e, "cannot keep capabilities across setuid");
  if (setgroups(p->n_groups, p->groups) < 0) return ts_failerr(e, "cannot set additional gids");
  if (setresgid(p->gid, p->gid, p->gid) < 0) return ts_failerr(e, "cannot set gid %u", (unsigned)p->gid);
  if (setresuid(p->uid, p->uid, p->uid) < 0) return ts_failerr(e, "cannot set uid %u", (unsigned)p->uid);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return ts_failerr(e, "prctl(PR_SET_KEEPCAPS)");
  if (p->has_caps && caps_apply_sets(p->caps, e) < 0) return -1;
  return 0;
}

bool proc_seccomp_early(const struct process_spec *p, const struct seccomp_prog *f) { return f && !p->no_new_privs; }

int proc_exec(const struct process_spec *p, const char *exe, char *const env[], const struct seccomp_prog *late_filter, err_t *e) {
  if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return ts_failerr(e, "cannot set no_new_privs");
  umask(p->umask >= 0 ? (mode_t)p->umask : 022);
  if (late_filter && seccomp_install(late_filter, e) < 0) return -1;
  execve(exe, p->args, env);
  return ts_failerr(e, "exec %s", exe);
}
