/* tsstack-guard: the resident half of a monitor's kill-on-close guard (see
 * native/monitor/guard.c), kept apart so that it costs a few pages per
 * container instead of a copy of the monitor.
 *
 *   tsstack-guard MONITOR-ARGV0 --guard-cleanup MONITOR-ARGS...
 *     fd 3: the read end of a pipe whose only writer is the monitor
 *     fd 4: the monitor's executable, open for reading
 *
 * It waits on fd 3. 'q' means the monitor ended in order: exit. EOF means the
 * monitor died: it runs the monitor's executable (through fd 4, so an upgrade
 * or removal of the file since does not matter) as a child with the arguments
 * it was given, which removes the container and records the end, and waits for
 * it, so that while the work is done this process still answers to the name
 * tsstack-guard (what `tsstack` checks before it takes over a container). */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  char c;
  ssize_t r;
  while ((r = read(3, &c, 1)) < 0 && errno == EINTR) {}
  if (r == 1 && c == 'q') return 0;
  close(3);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    execv("/proc/self/fd/4", argv + 1);
    _exit(127);
  }
  close(4);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
