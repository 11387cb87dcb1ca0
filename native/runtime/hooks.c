#include "hooks.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int run_one(const struct hook *h, const char *kind, const char *state_json, err_t *e) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) return ts_failerr(e, "pipe");
  pid_t pid = fork();
  if (pid < 0) return close(in[0]), close(in[1]), ts_failerr(e, "fork");
  if (pid == 0) {
    dup2(in[0], 0);
    execve(h->path, h->args, h->env);
    _exit(127);
  }
  close(in[0]);
  struct sigaction ign = {.sa_handler = SIG_IGN}, old;
  sigaction(SIGPIPE, &ign, &old);  /* a hook need not read its stdin */
  ts_write_all(in[1], state_json, strlen(state_json));
  close(in[1]);
  sigaction(SIGPIPE, &old, NULL);
  struct timespec start, now, tick = {0, 5 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, h->timeout ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return ts_failerr(e, "%s hook %s: wait", kind, h->path);
    if (r == 0) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec >= h->timeout) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return ts_fail(e, "%s hook %s timed out after %ld s", kind, h->path, h->timeout);
      }
      nanosleep(&tick, NULL);
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return ts_fail(e, "%s hook %s could not be run (exit 127)", kind, h->path);
  if (WIFEXITED(status)) return ts_fail(e, "%s hook %s exited with status %d", kind, h->path, WEXITSTATUS(status));
  return ts_fail(e, "%s hook %s was killed by signal %d", kind, h->path, WTERMSIG(status));
}

int hooks_run(const struct spec *s, int kind, const char *state_json, err_t *e) {
  for (size_t i = 0; i < s->n_hooks[kind]; i++)
    if (run_one(&s->hooks[kind][i], hook_names[kind], state_json, e) < 0) return -1;
  return 0;
}
