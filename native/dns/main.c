// tsstack-dns: one small long-lived process per host answering service names per
// network from the records file the engine writes, forwarding everything else.
//
//   tsstack-dns --records FILE [--pidfile FILE] [--status FILE] [--resolv-conf FILE] [--port N]
//               [--nft-events FILE]
//
// Contract: the pid file is written (and flock'ed for the process's life, so a
// second server on the same pid file exits with status 3) once the first records
// are loaded and their gateways bound. The records are reloaded on SIGHUP and when
// the file changes (inotify on its directory: writes and atomic renames). After
// each successful load the status file holds "serial N" and one "unbound NETWORK ADDR"
// line per gateway that could not be bound (retried at the next load). A container with a
// `state` line is answered only while its monitor's state file says it runs and that
// monitor lives (live.h): the file is read at each load and again whenever inotify reports
// it replaced. With --nft-events, FILE is rewritten after every change of the namespace's
// nftables ruleset (nftwatch.h), so the engine sees a flushed firewall with a stat.
// SIGTERM/SIGINT: close everything, remove the pid file, exit 0.
#include "forward.h"
#include "live.h"
#include "nftwatch.h"
#include "records.h"
#include "resolvconf.h"
#include "server.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static const char *records_path, *pid_path, *status_path, *nft_path, *resolv_path = "/etc/resolv.conf";
static char records_base[NAME_MAX + 1];
static struct records *current;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes `text` to path via a temp file and rename, so readers never see half of it. */
static int write_atomic(const char *path, const char *text) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp) return -1;
  unlink(tmp); /* a new file (O_EXCL), never one planted */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -1;
  size_t n = strlen(text);
  int ok = write(fd, text, n) == (ssize_t)n;
  close(fd);
  if (!ok || rename(tmp, path) < 0) { unlink(tmp); return -1; }
  return 0;
}

/* Upstreams: the records' own, else the resolv.conf's; never one of our own gateways
   (that would loop back to us). */
static void apply_upstreams(const struct records *r) {
  struct rec_upstream list[8];
  size_t n = 0;
  if (r->nups) {
    for (size_t i = 0; i < r->nups && n < 8; i++) list[n++] = r->ups[i];
  } else {
    n = resolvconf_read(resolv_path, list, 8);
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (records_net_by_gateway(r, &list[i].addr) < 0) list[k++] = list[i];
  forward_set_upstreams(list, k);
}

static void reload(void) {
  char err[512] = "";
  struct records *r = records_load(records_path, err, sizeof err);
  if (!r) {
    fprintf(stderr, current ? "tsstack-dns: keeping the previous records: %s\n" : "tsstack-dns: cannot load the records: %s\n", err);
    return;
  }
  apply_upstreams(r);
  live_attach(r, current);
  char unbound[4096];
  server_sync(r, unbound, sizeof unbound);
  live_release(current);
  records_free(current);
  current = r;
  if (status_path) {
    char s[sizeof unbound + 64];
    snprintf(s, sizeof s, "serial %lu\n%s", r->serial, unbound);
    if (write_atomic(status_path, s) < 0) fprintf(stderr, "tsstack-dns: %s: %s\n", status_path, strerror(errno));
  }
}

static int take_pidfile(void) {
  int fd = open(pid_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    fprintf(stderr, "tsstack-dns: %s: %s\n", pid_path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    char buf[32] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    fprintf(stderr, "tsstack-dns: already running (pid %s, %s)\n", buf[0] ? buf : "?", pid_path);
    close(fd);
    return -2;
  }
  return fd;
}

static int write_pid(int fd) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
  return ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n ? 0 : -1;
}

static void usage(void) {
  fprintf(stderr, "usage: tsstack-dns --records FILE [--pidfile FILE] [--status FILE] [--resolv-conf FILE] [--port N] [--nft-events FILE]\n");
  exit(2);
}

int main(int argc, char **argv) {
  /* Nothing of the command that started us: a daemon that kept an fd it inherited (a lock a
     `flock … tsstack up` passed down, the engine's netlink socket) would hold it for its whole life. */
  close_range(3, ~0U, 0);
  long port = 53;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (strcmp(a, "--records") == 0) records_path = v;
    else if (strcmp(a, "--pidfile") == 0) pid_path = v;
    else if (strcmp(a, "--status") == 0) status_path = v;
    else if (strcmp(a, "--resolv-conf") == 0) resolv_path = v;
    else if (strcmp(a, "--nft-events") == 0) nft_path = v;
    else if (strcmp(a, "--port") == 0) {
      char *e;
      port = strtol(v, &e, 10);
      if (*e || port <= 0 || port > 65535) usage();
    } else usage();
    i++;
  }
  if (!records_path) usage();
  {
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", records_path);
    snprintf(records_base, sizeof records_base, "%s", basename(copy));
  }

  // Besides its sockets it holds a pidfd per running container (live.h): take the hard limit on files.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  int pidfd = -1;
  if (pid_path && (pidfd = take_pidfile()) < 0) return pidfd == -2 ? 3 : 1;

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", records_path);
  if (sfd < 0 || epfd < 0 || ifd < 0 || inotify_add_watch(ifd, dirname(dir), IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE) < 0) {
    fprintf(stderr, "tsstack-dns: setup: %s\n", strerror(errno));
    return 1;
  }
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)EV_SIGNAL << 32 | (uint32_t)sfd };
  epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
  ev.data.u64 = (uint64_t)EV_INOTIFY << 32 | (uint32_t)ifd;
  epoll_ctl(epfd, EPOLL_CTL_ADD, ifd, &ev);
  if (live_init(epfd, EV_LIVE, EV_LIVE_PID) < 0)  // e.g. fs.inotify.max_user_instances reached
    fprintf(stderr, "tsstack-dns: cannot follow the containers' state files (%s): every container is answered\n", strerror(errno));
  if (nft_path && nftwatch_init(epfd, EV_NFT, nft_path) < 0)
    fprintf(stderr, "tsstack-dns: cannot follow nftables changes (%s): the engine lists the ruleset instead\n", strerror(errno));
  server_init(epfd, (uint16_t)port);
  if (forward_init(epfd, EV_UPSTREAM, EV_UPSTREAM_TCP, server_deliver) < 0) {
    fprintf(stderr, "tsstack-dns: upstream socket: %s\n", strerror(errno));
    return 1;
  }
  reload();
  if (!current) return 1;
  if (pidfd >= 0 && write_pid(pidfd) < 0) {
    fprintf(stderr, "tsstack-dns: %s: %s\n", pid_path, strerror(errno));
    return 1;
  }

  for (;;) {
    int64_t now = now_ms(), d1 = forward_next_deadline(), d2 = server_next_deadline();
    int64_t d = d1 < 0 ? d2 : d2 < 0 ? d1 : (d1 < d2 ? d1 : d2);
    int timeout = d < 0 ? -1 : d <= now ? 0 : (int)(d - now);
    struct epoll_event evs[32];
    int n = epoll_wait(epfd, evs, 32, timeout);
    if (n < 0 && errno != EINTR) {
      fprintf(stderr, "tsstack-dns: epoll_wait: %s\n", strerror(errno));
      break;
    }
    now = now_ms();
    int stop = 0, again = 0;
    for (int i = 0; i < n; i++) {
      uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32);
      int fd = (int)(uint32_t)evs[i].data.u64;
      if (kind == EV_SIGNAL) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGHUP) again = 1;
          else stop = 1;
        }
      } else if (kind == EV_INOTIFY) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t len;
        while ((len = read(ifd, buf, sizeof buf)) > 0)
          for (char *p = buf; p < buf + len;) {
            struct inotify_event *ie = (struct inotify_event *)p;
            if (ie->len && strcmp(ie->name, records_base) == 0) again = 1;
            p += sizeof *ie + ie->len;
          }
      } else if (kind == EV_LIVE) {
        live_on_files(current);
      } else if (kind == EV_LIVE_PID) {
        live_on_pid(current, fd);
      } else if (kind == EV_NFT) {
        nftwatch_on_readable();
      } else if (kind == EV_UPSTREAM) {
        forward_on_readable(fd, now);
      } else if (kind == EV_UPSTREAM_TCP) {
        forward_on_tcp(fd, evs[i].events, now);
      } else {
        server_on_event(kind, fd, evs[i].events, now);
      }
    }
    if (stop) break;
    if (again) reload();
    forward_expire(now);
    server_expire(now);
  }
  server_close_all();
  live_release(current);
  live_close();
  nftwatch_close();
  if (pid_path) unlink(pid_path);
  records_free(current);
  return 0;
}
