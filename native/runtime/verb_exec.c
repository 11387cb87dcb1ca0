/* exec: another process in a running container. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "exec.h"
#include "verbs.h"

int verb_exec(int argc, char **argv) {
  static const struct opt opts[] = {
      {"tty", 't', false, false}, {"detach", 'd', false, false}, {"pid-file", 0, true, false}, {"process", 'p', true, false},
      {"env", 'e', true, true}, {"cwd", 0, true, false}, {"user", 'u', true, false}, {"console-socket", 0, true, false},
      {"preserve-fds", 0, true, false}, {"no-new-privs", 0, false, false}, {"cap", 'c', true, true}, {"additional-gids", 'g', true, true},
      {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 1, &p, &e) < 0 || verb_need_id(&p, "exec", &e) < 0) return verb_report("exec", &e);
  struct exec_opts o = {.id = p.pos[0], .tty = p.values[0], .detach = p.values[1], .pid_file = p.values[2],
                        .process_file = p.values[3], .cwd = p.values[5], .user = p.values[6], .console_socket = p.values[7],
                        .env_add = p.repeated[4], .n_env = p.n_repeated[4], .argv = p.pos + 1,
                        .no_new_privs = p.values[9] != NULL, .caps_add = p.repeated[10], .n_caps = p.n_repeated[10],
                        .gids_add = p.repeated[11], .n_gids = p.n_repeated[11]};
  if (p.values[8]) o.preserve_fds = atoi(p.values[8]);
  if (!o.process_file && p.n_pos < 2) {
    ts_fail(&e, "usage: tsstack-runtime exec [flags] <container-id> <command> [args…]");
    return verb_report("exec", &e);
  }
  int rc = exec_run(&o, &e);
  if (rc < 0) return verb_report("exec", &e);
  return rc;
}
