// Liveness from the monitors' state files and processes (see live.h).
#include "live.h"
#include "json.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

// Renames (how the monitor and the engine write), plain writes, and removals.
#define WATCH_MASK (IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE | IN_ONLYDIR)

static int epfd = -1, ifd = -1;
static uint32_t pid_kind;
static int *wds;  // the watches live_attach made and still needs
static size_t nwds;

int live_init(int ep, uint32_t kind_files, uint32_t kind_pid) {
  epfd = ep;
  pid_kind = kind_pid;
  ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (ifd < 0) return -1;
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)kind_files << 32 | (uint32_t)ifd };
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, ifd, &ev) == 0) return 0;
  int e = errno;
  close(ifd);
  ifd = -1;
  errno = e;
  return -1;
}

void live_close(void) {
  if (ifd >= 0) close(ifd);
  ifd = -1;
  free(wds);
  wds = NULL;
  nwds = 0;
}

int live_status_up(const char *text, size_t len, long *monitor_pid) {
  if (monitor_pid) *monitor_pid = 0;
  err_t e;
  json *j = json_parse(text, len, &e);
  if (!j) return 1;
  const char *st = j->type == JSON_OBJECT ? json_string(json_get(j, "status")) : NULL;
  int up = !st || strcmp(st, "running") == 0;
  long long pid = 0;
  const json *p = j->type == JSON_OBJECT ? json_get(j, "monitorPid") : NULL;
  if (monitor_pid && p && p->type == JSON_NUMBER && json_as_i64(p, &pid, "monitorPid", &e) == 0 && pid > 0 && pid <= INT_MAX) *monitor_pid = (long)pid;
  json_free(j);
  return up;
}

/* Reads one state file; unreadable = up. The buffer is static: the monitor's file is at
   most 16 KiB, and only the pages a read touches count towards the resident size. */
static int read_up(const char *path, long *pid) {
  static char buf[65536];
  *pid = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 1;
  size_t n = 0;
  ssize_t k;
  while (n < sizeof buf && ((k = read(fd, buf + n, sizeof buf - n)) > 0 || (k < 0 && errno == EINTR)))
    if (k > 0) n += (size_t)k;
  close(fd);
  return live_status_up(buf, n, pid);
}

static void unwatch_pid(struct rec_state *s) {
  if (s->pidfd >= 0) close(s->pidfd);  // closing takes it out of epoll
  s->pidfd = -1;
  s->pid = 0;
}

/* Watches the monitor `pid`. Returns 0 when it has already gone (so has its container). */
static int watch_pid(struct rec_state *s, long pid) {
  if (s->pidfd >= 0 && s->pid == pid) return 1;
  unwatch_pid(s);
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return errno != ESRCH;  // no pidfds here (ENOSYS) or no fd left: the file alone decides
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)pid_kind << 32 | (uint32_t)fd };
  if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) { close(fd); return 1; }
  s->pidfd = fd;
  s->pid = pid;
#endif
  return 1;
}

/* Reads s's file again and settles whether it is answered. Returns 1 when that changed. */
static int settle(struct rec_state *s) {
  long pid;
  int up = read_up(s->path, &pid);
  if (up && pid > 0) up = watch_pid(s, pid);
  else unwatch_pid(s);
  int changed = up != s->up;
  s->up = up;
  return changed;
}

static int has_wd(const int *list, size_t n, int wd) {
  for (size_t i = 0; i < n; i++)
    if (list[i] == wd) return 1;
  return 0;
}

/* The state of `old` for s (same name and file) whose liveness is current, or NULL. */
static struct rec_state *carried(struct records *old, const struct rec_state *s) {
  if (!old) return NULL;
  size_t lo = 0, hi = old->nstates;
  while (lo < hi) {  // old->states are sorted by name
    size_t mid = (lo + hi) / 2;
    int c = strcmp(old->states[mid].name, s->name);
    if (c == 0) {
      struct rec_state *o = &old->states[mid];
      return o->wd >= 0 && o->wd == s->wd && strcmp(o->path, s->path) == 0 ? o : NULL;
    }
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return NULL;
}

void live_attach(struct records *r, struct records *old) {
  int *next = r->nstates ? malloc(r->nstates * sizeof *next) : NULL;
  size_t nnext = 0;
  for (size_t i = 0; i < r->nstates; i++) {
    struct rec_state *s = &r->states[i];
    char dir[PATH_MAX];
    size_t dl = (size_t)(s->file - s->path);  // up to and including the last '/'
    s->wd = -1;
    if (ifd >= 0 && dl < sizeof dir) {
      memcpy(dir, s->path, dl);
      dir[dl > 1 ? dl - 1 : dl] = 0;  // keep "/" for a file in the root
      // The same directory gives the same wd; watching before reading misses no change.
      s->wd = inotify_add_watch(ifd, dir, WATCH_MASK);
      if (s->wd >= 0 && next && !has_wd(next, nnext, s->wd)) next[nnext++] = s->wd;
    }
    // Not followed (no inotify, no such directory, out of watches): answered, as the
    // parser left it; a file read once and never again could leave it quiet for good.
    if (s->wd < 0) continue;
    struct rec_state *o = carried(old, s);
    if (o) {  // a records reload need not read every file again
      s->up = o->up;
      s->pid = o->pid;
      s->pidfd = o->pidfd;
      o->pidfd = -1;
      o->pid = 0;
      continue;
    }
    settle(s);
  }
  if (r->nstates && !next) return;  // out of memory: keep the old watches rather than lose the new
  for (size_t i = 0; i < nwds; i++)
    if (!has_wd(next, nnext, wds[i])) inotify_rm_watch(ifd, wds[i]);
  free(wds);
  wds = next;
  nwds = nnext;
}

void live_release(struct records *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nstates; i++) unwatch_pid(&r->states[i]);
}

/* Re-reads the states in watch `wd` named `name` (NULL: all in it; wd < 0: every state). */
static int refresh(struct records *r, int wd, const char *name) {
  int changed = 0;
  for (size_t i = 0; i < r->nstates; i++) {
    struct rec_state *s = &r->states[i];
    if (wd >= 0 && s->wd != wd) continue;
    if (name && strcmp(s->file, name) != 0) continue;
    changed += settle(s);
  }
  return changed;
}

int live_on_files(struct records *r) {
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  ssize_t len;
  int changed = 0;
  while ((len = read(ifd, buf, sizeof buf)) > 0) {
    for (char *p = buf; p < buf + len;) {
      const struct inotify_event *ie = (const struct inotify_event *)p;
      p += sizeof *ie + ie->len;
      if (!r) continue;
      if (ie->mask & IN_Q_OVERFLOW) {
        changed += refresh(r, -1, NULL);  // events were lost: read everything again
      } else if (ie->mask & IN_IGNORED) {
        // The directory went (its container was removed): no more events from it.
        for (size_t i = 0; i < nwds; i++)
          if (wds[i] == ie->wd) wds[i] = wds[--nwds];
        changed += refresh(r, ie->wd, NULL);
        for (size_t i = 0; i < r->nstates; i++)
          if (r->states[i].wd == ie->wd) r->states[i].wd = -1;
      } else if (ie->len) {
        changed += refresh(r, ie->wd, ie->name);
      }
    }
  }
  return changed;
}

int live_on_pid(struct records *r, int fd) {
  // A pidfd is readable once its process has ended; anything else here is a stale event.
  struct pollfd p = { .fd = fd, .events = POLLIN };
  if (!r || poll(&p, 1, 0) != 1 || !(p.revents & POLLIN)) return 0;
  for (size_t i = 0; i < r->nstates; i++) {
    struct rec_state *s = &r->states[i];
    if (s->pidfd != fd) continue;
    unwatch_pid(s);
    int changed = s->up;
    s->up = 0;
    return changed;
  }
  return 0;
}
