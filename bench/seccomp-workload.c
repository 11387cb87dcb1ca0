/* The syscall-heavy workload of bench/seccomp.ts, run inside a container:
 * five loops, each timed with CLOCK_MONOTONIC, printed as "<loop> <ns per
 * iteration>". What they stress in a seccomp filter:
 *   getppid  a call allowed without argument tests (the kernel caches it)
 *   rw       read 1 byte of /dev/zero + write it to /dev/null (dd bs=1)
 *   personality  personality(0xffffffff), a query: a cheap call with
 *            argument tests, so the filter program runs on every call
 *   socket   socket(AF_UNIX) + close: argument tests too, on a dearer call
 *   fork     fork + _exit + waitpid: clone's flag test, exit, wait4
 * Usage: seccomp-workload [scale]   (scale multiplies the iteration counts) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void report(const char *name, double t0, long n) { printf("%s %.1f\n", name, (now_ns() - t0) / n); }

int main(int argc, char **argv) {
  long scale = argc > 1 ? atol(argv[1]) : 1;
  long n;
  double t0;
  n = 200000 * scale, t0 = now_ns();
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  report("getppid", t0, n);

  n = 200000 * scale, t0 = now_ns();
  for (long i = 0; i < n; i++) syscall(SYS_personality, 0xffffffffUL);
  report("personality", t0, n);

  int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
  char c;
  if (in < 0 || out < 0) return perror("open"), 1;
  n = 100000 * scale, t0 = now_ns();
  for (long i = 0; i < n; i++)
    if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1) return perror("rw"), 1;
  report("rw", t0, n);

  n = 50000 * scale, t0 = now_ns();
  for (long i = 0; i < n; i++) {
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s < 0) return perror("socket"), 1;
    close(s);
  }
  report("socket", t0, n);

  n = 1000 * scale, t0 = now_ns();
  for (long i = 0; i < n; i++) {
    pid_t p = fork();
    if (p < 0) return perror("fork"), 1;
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
  }
  report("fork", t0, n);
  return 0;
}
