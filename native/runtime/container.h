/* Creating a container: the parent side (state, cgroups, clone) and the
 * container's init up to the point where it waits for `start`. */
#ifndef RT_CONTAINER_H
#define RT_CONTAINER_H
#include <stdbool.h>
#include "spec.h"
#include "state.h"

struct create_opts {
  const char *id, *pid_file, *console_socket;
  bool no_pivot;
  bool own_console;   /* run in the foreground with a terminal: receive the master ourselves */
  int preserve_fds;
};

/* On success the init waits on exec.fifo, state.json is written and, with
 * own_console, *master is the pty master. On failure nothing is left behind. */
int container_create(const struct create_opts *o, struct spec *s, struct cstate *st, int *master, err_t *e);
/* Lets a created container's init run its process. */
int container_start(const char *id, err_t *e);
/* Kills what is left, removes cgroups and the state dir. */
int container_destroy(struct cstate *st, err_t *e);
/* Waits (up to ~5 s) until the init and every cgroup member are gone, SIGKILLing them. */
void container_kill_all(struct cstate *st);
int parse_signal(const char *s, err_t *e);
#endif
