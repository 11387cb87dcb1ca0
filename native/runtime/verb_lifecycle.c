/* start, kill, delete, pause, resume: moving a container through its states. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgroups.h"
#include "container.h"
#include "state.h"
#include "verbs.h"

int verb_start(int argc, char **argv) {
  static const struct opt opts[] = {{NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || verb_need_id(&p, "start", &e) < 0 || container_start(p.pos[0], &e) < 0) return verb_report("start", &e);
  return 0;
}

int verb_kill(int argc, char **argv) {
  static const struct opt opts[] = {{"all", 'a', false, false}, {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || verb_need_id(&p, "kill", &e) < 0) return verb_report("kill", &e);
  int sig = p.n_pos > 1 ? parse_signal(p.pos[1], &e) : SIGTERM;
  if (sig < 0 || state_load(p.pos[0], &st, &e) < 0) return verb_report("kill", &e);
  const char *status = state_status(&st);
  if (strcmp(status, "running") && strcmp(status, "created") && strcmp(status, "paused")) {
    ts_fail(&e, "container \"%s\" is not running (%s)", st.id, status);
    return verb_report("kill", &e);
  }
  if (p.values[0]) {
    pid_t *pids = NULL;
    size_t n = 0;
    if (cg_pids(&st.cg, &pids, &n, &e) < 0) return verb_report("kill", &e);
    for (size_t i = 0; i < n; i++) kill(pids[i], sig);
    free(pids);
  }
  if (kill(st.pid, sig) < 0 && !p.values[0]) {
    ts_failerr(&e, "cannot signal container \"%s\" (pid %d)", st.id, (int)st.pid);
    return verb_report("kill", &e);
  }
  return 0;
}

int verb_delete(int argc, char **argv) {
  static const struct opt opts[] = {{"force", 'f', false, false}, {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || verb_need_id(&p, "delete", &e) < 0) return verb_report("delete", &e);
  if (state_load(p.pos[0], &st, &e) < 0) {
    _cleanup_free_ char *dir = state_dir(p.pos[0]);
    struct stat sb;
    if (p.values[0] && stat(dir, &sb) == 0) return ts_rm_rf(dir) < 0 ? verb_report("delete", &e) : 0;
    if (p.values[0] && errno == ENOENT) return 0;
    return verb_report("delete", &e);
  }
  const char *status = state_status(&st);
  if (!p.values[0] && (!strcmp(status, "running") || !strcmp(status, "creating") || !strcmp(status, "paused"))) {
    ts_fail(&e, "cannot delete container \"%s\" that is not stopped: %s", st.id, status);
    return verb_report("delete", &e);
  }
  if (container_destroy(&st, &e) < 0) return verb_report("delete", &e);
  return 0;
}

int verb_pause(int argc, char **argv, bool freeze) {
  static const struct opt opts[] = {{NULL, 0, false, false}};
  const char *verb = freeze ? "pause" : "resume";
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || verb_need_id(&p, verb, &e) < 0 || state_load(p.pos[0], &st, &e) < 0) return verb_report(verb, &e);
  const char *status = state_status(&st);
  if (strcmp(status, freeze ? "running" : "paused")) {
    ts_fail(&e, "container \"%s\" is %s, not %s", st.id, status, freeze ? "running" : "paused");
    return verb_report(verb, &e);
  }
  if (cg_freeze(&st.cg, freeze, &e) < 0) return verb_report(verb, &e);
  state_free(&st);
  return 0;
}
