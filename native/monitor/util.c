/* Small helpers: clocks, RFC 3339 times, JSON string escaping, signal names. */
#include "mon.h"
#include "tsutil.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int64_t mon_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* UTC with nanoseconds, as Docker's json-file log driver writes it. */
void mon_rfc3339(char out[40]) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 40 - n, ".%09ldZ", ts.tv_nsec);
}

int mon_json_escape(char *out, size_t cap, const char *s, size_t n) {
  /* By table, not snprintf: a container writing control bytes (a binary, NULs) has each one escaped,
   * and a printf per byte held its output to ~3 MB/s. */
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e = 0;
    switch (c) {
      case '"': e = '"'; break;
      case '\\': e = '\\'; break;
      case '\n': e = 'n'; break;
      case '\r': e = 'r'; break;
      case '\t': e = 't'; break;
      default: break;
    }
    if (e) {
      if (o + 2 >= cap) return -1;
      out[o++] = '\\';
      out[o++] = e;
    } else if (c < 0x20 || c == 0x7f) {
      if (o + 6 >= cap) return -1;
      memcpy(out + o, "\\u00", 4);
      out[o + 4] = hex[c >> 4];
      out[o + 5] = hex[c & 15];
      o += 6;
    } else {
      /* Bytes >= 0x80 pass through: container output is usually UTF-8; readers replace invalid sequences
       * (or, reading the file as latin1, get every byte back: readOutput). */
      if (o + 1 >= cap) return -1;
      out[o++] = (char)c;
    }
  }
  out[o] = 0;
  return (int)o;
}

static const struct { const char *name; int sig; } sigs[] = {
  {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"TRAP", SIGTRAP},
  {"ABRT", SIGABRT}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
  {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
  {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
  {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
  {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"PWR", SIGPWR},
  {"SYS", SIGSYS},
};

/* "SIGTERM", "TERM", "15", "SIGRTMIN+3" → number; -1 if unknown. */
int mon_parse_signal(const char *s) {
  if (!s || !*s) return -1;
  char *end;
  long v = strtol(s, &end, 10);
  if (*end == 0) return (v > 0 && v < NSIG) ? (int)v : -1;
  if (strncasecmp(s, "SIG", 3) == 0) s += 3;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (strcasecmp(s, sigs[i].name) == 0) return sigs[i].sig;
  if (strncasecmp(s, "RTMIN", 5) == 0) {
    int off = s[5] == '+' ? atoi(s + 6) : 0;
    return TS_SIGRTMIN + off <= TS_SIGRTMAX ? TS_SIGRTMIN + off : -1;
  }
  return -1;
}

int mon_write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

void mon_set_cloexec(int fd) { fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC); }
void mon_set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

ssize_t mon_read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  ssize_t r = 0;
  while (len + 1 < cap && ((r = read(fd, buf + len, cap - 1 - len)) > 0 || (r < 0 && errno == EINTR)))
    if (r > 0) len += (size_t)r;
  close(fd);
  buf[len] = 0;
  return r < 0 ? -1 : (ssize_t)len;
}

long mon_read_long(const char *path) {
  char buf[32];
  if (mon_read_small(path, buf, sizeof buf) <= 0) return 0;
  char *end;
  long v = strtol(buf, &end, 10);
  return end == buf ? 0 : v;
}

/* close_range(2) by number: not every C library declares it (musl 1.2.3 does not). */
void mon_close_from(int fd) { syscall(SYS_close_range, (unsigned)fd, ~0U, 0U); }
