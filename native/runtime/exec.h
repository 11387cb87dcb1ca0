/* `exec`: a new process inside a running container's namespaces and cgroups. */
#ifndef RT_EXEC_H
#define RT_EXEC_H
#include <stdbool.h>
#include "tsutil.h"

struct exec_opts {
  const char *id, *process_file, *pid_file, *console_socket, *cwd, *user;
  bool tty, detach;
  char **env_add;
  size_t n_env;
  char **argv;           /* the command (NULL-terminated), unless process_file */
  bool no_new_privs;     /* --no-new-privs */
  char **caps_add;       /* --cap CAP_X…: added to every capability set */
  size_t n_caps;
  char **gids_add;       /* --additional-gids N[,N…]… */
  size_t n_gids;
  int preserve_fds;
};

/* Returns the process's exit status (128+signal when killed) in the
 * foreground, 0 when detached, or < 0 with e set. */
int exec_run(const struct exec_opts *o, err_t *e);
/* Waits for pid while forwarding our terminating signals to it and, with
 * master >= 0, proxying the terminal. Returns the exit status as a shell does. */
int wait_forwarding(pid_t pid, int master);
#endif
