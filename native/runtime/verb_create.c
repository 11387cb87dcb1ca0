/* create and run: a container from a bundle; run also starts it and, in the
 * foreground, waits for it, forwards signals, proxies a terminal and deletes it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "container.h"
#include "exec.h"
#include "spec.h"
#include "verbs.h"

int verb_create(int argc, char **argv, bool run) {
  static const struct opt opts[] = {
      {"bundle", 'b', true, false}, {"pid-file", 0, true, false}, {"console-socket", 0, true, false},
      {"detach", 'd', false, false}, {"no-pivot", 0, false, false}, {"preserve-fds", 0, true, false},
      {"no-new-keyring", 0, false, false}, {"keep", 0, false, false}, {"no-subreaper", 0, false, false}, {NULL, 0, false, false}};
  const char *verb = run ? "run" : "create";
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || verb_need_id(&p, verb, &e) < 0) return verb_report(verb, &e);
  struct create_opts o = {.id = p.pos[0], .pid_file = p.values[1], .console_socket = p.values[2], .no_pivot = p.values[4] != NULL};
  if (p.values[5]) o.preserve_fds = atoi(p.values[5]);
  bool detach = !run || p.values[3];
  struct spec s;
  if (spec_load(p.values[0] ? p.values[0] : ".", &s, &e) < 0) return verb_report(verb, &e);
  o.own_console = run && !detach && s.proc.terminal && !o.console_socket;
  struct cstate st;
  int master = -1;
  if (container_create(&o, &s, &st, &master, &e) < 0) return verb_report(verb, &e);
  if (!run) return 0;
  if (container_start(o.id, &e) < 0) {
    verb_report(verb, &e);
    container_destroy(&st, &e);
    return 1;
  }
  if (detach) return 0;
  int code = wait_forwarding(st.pid, master);
  if (!p.values[7] && container_destroy(&st, &e) < 0) verb_report(verb, &e);
  return code;
}
