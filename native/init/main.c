/* tsstack-init: the process a container runs as PID 1 with `init: true`.
 *
 *   tsstack-init [--] CMD [ARG...]
 *
 * Contract:
 * - runs CMD as its only direct child, in its own process group, which is
 *   made the terminal's foreground group when stdin is a terminal (so ^C
 *   reaches the program, not the init);
 * - forwards every signal it can catch to that child (PID 1 of a pid
 *   namespace ignores default-action signals: without a forwarder `sleep`
 *   would ignore SIGTERM and wait out the grace period);
 * - reaps every process that ends up re-parented to it (no zombies);
 * - exits as soon as the child does, with the child's status: its exit code,
 *   or 128 + the signal number that killed it (the shell's convention).
 * Errors before the exec: one line on stderr, exit 127 (not found) or 126.
 *
 * Signals are blocked and taken synchronously with sigtimedwait: blocked
 * signals are queued even for a namespace's PID 1, and no handler runs
 * concurrently with waitpid. Faults (SEGV, BUS, ...) stay unblocked. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const int SYNCHRONOUS[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS };

static void forwarded_set(sigset_t *set) {
  sigfillset(set);
  for (size_t i = 0; i < sizeof SYNCHRONOUS / sizeof SYNCHRONOUS[0]; i++) sigdelset(set, SYNCHRONOUS[i]);
}

/* In the forked child, before exec: own group, foreground on a tty, default
 * dispositions and mask. Never returns. */
static void exec_child(char **argv, const sigset_t *orig) {
  setpgid(0, 0);
  /* SIGTTOU is still blocked here, so a background group may take the terminal.
   * Failure is not fatal: ^C then reaches the program through the init. */
  if (isatty(STDIN_FILENO)) (void)tcsetpgrp(STDIN_FILENO, getpgrp());
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  sigemptyset(&dfl.sa_mask);
  for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL); /* fails harmlessly for KILL/STOP and RT gaps */
  sigprocmask(SIG_SETMASK, orig, NULL);
  execvp(argv[0], argv);
  int err = errno;
  fprintf(stderr, "tsstack-init: cannot run %s: %s\n", argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

static int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

/* Reaps everything that has exited. Returns 1 and fills *code when the
 * main child was among them. */
static int reap(pid_t child, int *code) {
  int done = 0;
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, WNOHANG);
    if (p <= 0) break; /* 0: others still run; -1/ECHILD: no children left */
    if (p == child) {
      *code = exit_status(status);
      done = 1;
    }
  }
  return done;
}

int main(int argc, char **argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    fprintf(stderr, "tsstack-init: usage: tsstack-init [--] CMD [ARG...]\n");
    return 2;
  }
  /* Also when not PID 1 (a shared pid namespace): orphans of the program come here to be reaped. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  sigset_t all, orig;
  forwarded_set(&all);
  sigprocmask(SIG_BLOCK, &all, &orig);

  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "tsstack-init: fork: %s\n", strerror(errno));
    return 126;
  }
  if (child == 0) exec_child(argv + first, &orig);

  int code = 0;
  for (;;) {
    siginfo_t si;
    /* The timeout catches a SIGCHLD merged with one already taken: reap runs every second regardless. */
    struct timespec tick = { .tv_sec = 1, .tv_nsec = 0 };
    int sig = sigtimedwait(&all, &si, &tick);
    if (sig < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        fprintf(stderr, "tsstack-init: sigtimedwait: %s\n", strerror(errno));
        return 255;
      }
    } else if (sig != SIGCHLD) {
      /* Terminal job control aimed at the init itself is not forwarded: the child's group gets its own. */
      if (sig != SIGTTIN && sig != SIGTTOU && kill(child, sig) < 0 && errno != ESRCH) {
        fprintf(stderr, "tsstack-init: forwarding signal %d: %s\n", sig, strerror(errno));
      }
    }
    if (reap(child, &code)) return code;
  }
}
