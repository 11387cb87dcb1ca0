/* tsstack-portd: the published TCP ports of rootless containers, served from the
 * host's network namespace.
 *
 * Rootless containers live in a network namespace of the user's; a user-space hop
 * (pasta) carrying every published connection into it costs about half of a local
 * connection's throughput on a small machine. Instead, tsstack-runtime gives each
 * rootless container a seccomp filter that hands its bind(2) and connect(2) on IP
 * sockets to this process (native/runtime/bypass.c sends the filter's listener fd
 * here, with what the container publishes). Then:
 *  - bind() of a published container port (on the wildcard or the container's own
 *    address): a socket of the same kind is made HERE, in the host's namespace, bound
 *    to the published host address and port the stack file declares, and installed in
 *    place of the container's socket (SECCOMP_IOCTL_NOTIF_ADDFD). The server then
 *    listens and accepts on the host directly: no hop.
 *  - so that everything else still reaches that server (other containers without the
 *    filter, `exec`'d processes, the container's own 127.0.0.1), the container's
 *    original socket, kept here, is bound where the container asked and relays each
 *    connection to the host socket (plain copying: correctness, not speed).
 *  - connect() from a container of the same project, on a network of the server's, to its
 *    address and port (or to its own 127.0.0.1 and a port it serves this way) gets a host socket
 *    connected to the published address: no relay between containers either.
 *  - everything else continues as if there were no filter.
 * Only the declared host addresses are ever bound or connected to; what a container
 * asks for only selects among them. Started by the CLI outside the namespace as the
 * user, one per run root; it accepts listener fds only from its own uid.
 *
 *   tsstack-portd SOCKET */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define MAX_BOXES 512
#define MAX_PUBS 64
#define MAX_IPS 16
#define MAX_RELAYS 1024
#define META_MAX 8192

struct pub { uint16_t cport, hport; bool any; struct in_addr h4; };

/* One container's filter: its listener, its project, what it publishes. */
struct box {
  int nfd;
  char project[256];
  struct pub pubs[MAX_PUBS];
  int npubs;
  struct in_addr ips[MAX_IPS];
  int nips;
  bool ips_known;
  struct { uint32_t net, mask; } links[MAX_IPS]; /* its networks (on-link routes), s_addr order */
  int nlinks;
  bool links_known;
};

/* A server bound through the host: its original socket relays, its routes redirect connects. */
struct relay {
  struct box *box;
  int lfd;            /* the container's original socket, listening in its namespace */
  int pidfd;          /* the process that bound it: when it ends, so does the relay */
  uint16_t cport;
  struct sockaddr_in host; /* where its connections go */
};

static struct box *boxes[MAX_BOXES];
static int nboxes;
static struct relay *relays[MAX_RELAYS];
static int nrelays;
static struct seccomp_notif_sizes sizes;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("tsstack-portd: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ------------------------------------------------------------------ relay */

static int write_all(int fd, const char *b, size_t n) {
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

struct conn { int a; struct sockaddr_in host; };

static void *conn_main(void *arg) {
  struct conn c = *(struct conn *)arg;
  free(arg);
  int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (b < 0 || connect(b, (struct sockaddr *)&c.host, sizeof c.host) < 0) {
    if (b >= 0) close(b);
    close(c.a);
    return NULL;
  }
  struct pollfd p[2] = {{.fd = c.a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
  int open_ = 2;
  char buf[16384];
  while (open_) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int other = i ? c.a : b;
      ssize_t n = read(p[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        shutdown(other, SHUT_WR);
        p[i].fd = -1;
        open_--;
      } else if (write_all(other, buf, (size_t)n) < 0) {
        open_ = 0;
        break;
      }
    }
  }
  close(c.a);
  close(b);
  return NULL;
}

static void start_thread(void *(*f)(void *), void *arg) {
  pthread_t t;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&at, 64 * 1024);
  if (pthread_create(&t, &at, f, arg) != 0) logf_("cannot start a thread: %s", strerror(errno));
  pthread_attr_destroy(&at);
}

struct acceptor { int lfd; struct sockaddr_in host; };

static void *accept_main(void *arg) {
  struct acceptor a = *(struct acceptor *)arg;
  free(arg);
  for (;;) {
    int c = accept4(a.lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINVAL || errno == EBADF) break; /* shut down: the relay ended */
      if (errno != EINTR && errno != ECONNABORTED) usleep(100000); /* out of fds or memory: later */
      continue;
    }
    struct conn *k = malloc(sizeof *k);
    if (!k) { close(c); continue; }
    k->a = c;
    k->host = a.host;
    start_thread(conn_main, k);
  }
  close(a.lfd);
  return NULL;
}

static void relay_end(int i) {
  struct relay *r = relays[i];
  shutdown(r->lfd, SHUT_RDWR); /* the acceptor's accept() returns; it closes the socket */
  close(r->pidfd);
  free(r);
  relays[i] = relays[--nrelays];
}

/* ------------------------------------------------------------------ boxes */

/* The container's own IPv4 addresses: the local /32 routes of its namespace's table. */
static void read_ips(struct box *b, pid_t pid) {
  if (b->ips_known) return;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/net/fib_trie", pid);
  FILE *f = fopen(path, "re");
  if (!f) return;
  char line[256], last[64] = "";
  while (fgets(line, sizeof line, f)) {
    char *p = strstr(line, "|-- ");
    if (p) {
      snprintf(last, sizeof last, "%s", p + 4);
      last[strcspn(last, "\n")] = 0;
    } else if (strstr(line, "/32 host LOCAL") && last[0]) {
      struct in_addr a;
      if (inet_pton(AF_INET, last, &a) != 1 || (ntohl(a.s_addr) >> 24) == 127) continue;
      bool seen = false;
      for (int i = 0; i < b->nips; i++) seen |= b->ips[i].s_addr == a.s_addr;
      if (!seen && b->nips < MAX_IPS) b->ips[b->nips++] = a;
    }
  }
  fclose(f);
  b->ips_known = true;
}

/* The networks the container is on: the routes of its namespace without a gateway. */
static void read_links(struct box *b, pid_t pid) {
  if (b->links_known) return;
  char path[64], line[256], ifc[32];
  snprintf(path, sizeof path, "/proc/%d/net/route", pid);
  FILE *f = fopen(path, "re");
  if (!f) return;
  unsigned dst, gw, flags, mask;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%31s %x %x %x %*d %*d %*d %x", ifc, &dst, &gw, &flags, &mask) == 5 && !(flags & 0x2) && mask && b->nlinks < MAX_IPS) {
      b->links[b->nlinks].net = dst;
      b->links[b->nlinks].mask = mask;
      b->nlinks++;
    }
  fclose(f);
  b->links_known = true;
}

static bool on_link(const struct box *b, struct in_addr a) {
  for (int i = 0; i < b->nlinks; i++)
    if ((a.s_addr & b->links[i].mask) == b->links[i].net) return true;
  return false;
}

static bool own_ip(const struct box *b, struct in_addr a) {
  for (int i = 0; i < b->nips; i++)
    if (b->ips[i].s_addr == a.s_addr) return true;
  return false;
}

static const struct pub *pub_of(const struct box *b, uint16_t port) {
  for (int i = 0; i < b->npubs; i++)
    if (b->pubs[i].cport == port) return &b->pubs[i];
  return NULL;
}

/* "project=NAME\npub=CPORT HOSTIP|* HPORT\n…" */
static int parse_meta(struct box *b, char *m) {
  for (char *save = NULL, *l = strtok_r(m, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(l, "project=", 8)) {
      snprintf(b->project, sizeof b->project, "%s", l + 8);
    } else if (!strncmp(l, "pub=", 4)) {
      unsigned cp, hp;
      char ip[64];
      if (sscanf(l + 4, "%u %63s %u", &cp, ip, &hp) != 3 || !cp || cp > 65535 || !hp || hp > 65535) return -1;
      if (b->npubs == MAX_PUBS) return -1;
      struct pub *p = &b->pubs[b->npubs++];
      p->cport = (uint16_t)cp;
      p->hport = (uint16_t)hp;
      p->any = !strcmp(ip, "*");
      if (!p->any && inet_pton(AF_INET, ip, &p->h4) != 1) return -1;
    } else if (*l) {
      return -1;
    }
  }
  return b->project[0] ? 0 : -1;
}

static void box_end(int i) {
  struct box *b = boxes[i];
  for (int r = nrelays - 1; r >= 0; r--)
    if (relays[r]->box == b) relay_end(r);
  close(b->nfd);
  free(b);
  boxes[i] = boxes[--nboxes];
}

/* ------------------------------------------------------------------ notifications */

enum { CONTINUE = -100000 };

static int target_fd(pid_t pid, int fd, int *pidfd) {
  *pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (*pidfd < 0) return -1;
  int d = (int)syscall(SYS_pidfd_getfd, *pidfd, fd, 0);
  if (d < 0) {
    close(*pidfd);
    *pidfd = -1;
  }
  return d;
}

static int sockopt(int fd, int level, int name) {
  int v = 0;
  socklen_t l = sizeof v;
  return getsockopt(fd, level, name, &v, &l) < 0 ? -1 : v;
}

/* FD_CLOEXEC of the target's descriptor, from its fdinfo (O_CLOEXEC in "flags:"). */
static bool target_cloexec(pid_t pid, int fd) {
  char path[64], line[128];
  snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
  FILE *f = fopen(path, "re");
  if (!f) return false;
  bool c = false;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "flags:", 6)) c = (strtoul(line + 6, NULL, 8) & O_CLOEXEC) != 0;
  fclose(f);
  return c;
}

static int install(int nfd, uint64_t id, int src, int at, bool cloexec) {
  struct seccomp_notif_addfd a = {.id = id, .flags = SECCOMP_ADDFD_FLAG_SETFD, .srcfd = (uint32_t)src, .newfd = (uint32_t)at, .newfd_flags = cloexec ? O_CLOEXEC : 0};
  return ioctl(nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0 ? -1 : 0;
}

static void copy_opt(int from, int to, int level, int name) {
  int v = sockopt(from, level, name);
  if (v > 0) setsockopt(to, level, name, &v, sizeof v);
}

static int on_bind(struct box *b, const struct seccomp_notif *rq, const struct sockaddr_storage *sa) {
  pid_t pid = (pid_t)rq->pid;
  int fd = (int)rq->data.args[0];
  uint16_t port;
  bool wildcard, own = false;
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const void *)sa;
    port = ntohs(s->sin_port);
    wildcard = s->sin_addr.s_addr == htonl(INADDR_ANY);
    if (!wildcard) {
      read_ips(b, pid);
      own = own_ip(b, s->sin_addr);
    }
  } else if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const void *)sa;
    port = ntohs(s->sin6_port);
    wildcard = IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr);
  } else {
    return CONTINUE;
  }
  const struct pub *p = pub_of(b, port);
  if (!p || !(wildcard || own)) return CONTINUE;
  int pidfd, orig = target_fd(pid, fd, &pidfd);
  if (orig < 0) return CONTINUE;
  int rc = CONTINUE, hs = -1;
  if (sockopt(orig, SOL_SOCKET, SO_TYPE) != SOCK_STREAM || sockopt(orig, SOL_SOCKET, SO_DOMAIN) != sa->ss_family) goto out;
  /* a v6-only socket beside an IPv4 one (Redis binds both): it stays in the container */
  if (sa->ss_family == AF_INET6 && sockopt(orig, IPPROTO_IPV6, IPV6_V6ONLY) == 1) goto out;
  int fl = fcntl(orig, F_GETFL);
  hs = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | ((fl >= 0 && (fl & O_NONBLOCK)) ? SOCK_NONBLOCK : 0), 0);
  if (hs < 0) goto out;
  copy_opt(orig, hs, SOL_SOCKET, SO_REUSEADDR);
  copy_opt(orig, hs, SOL_SOCKET, SO_REUSEPORT);
  struct sockaddr_storage h = {0};
  socklen_t hl;
  if (sa->ss_family == AF_INET) {
    struct sockaddr_in *s = (void *)&h;
    s->sin_family = AF_INET;
    s->sin_port = htons(p->hport);
    s->sin_addr.s_addr = p->any ? htonl(INADDR_ANY) : p->h4.s_addr;
    hl = sizeof *s;
  } else {
    int zero = 0;
    setsockopt(hs, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    struct sockaddr_in6 *s = (void *)&h;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(p->hport);
    if (!p->any) { /* ::ffff:a.b.c.d */
      s->sin6_addr.s6_addr[10] = s->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&s->sin6_addr.s6_addr[12], &p->h4, 4);
    }
    hl = sizeof *s;
  }
  if (bind(hs, (struct sockaddr *)&h, hl) < 0) {
    /* taken on the host: the container keeps its socket in its own namespace (as without the filter) */
    logf_("cannot bind the host's port %u for container port %u of project %s: %s; it stays inside", p->hport, port, b->project, strerror(errno));
    goto out;
  }
  if (install(b->nfd, rq->id, hs, fd, target_cloexec(pid, fd)) < 0) { rc = CONTINUE; goto out; }
  rc = 0;
  /* the relay: the original socket where the container asked, to the host's */
  struct relay *r = NULL;
  socklen_t sl = sa->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (nrelays < MAX_RELAYS && bind(orig, (const struct sockaddr *)sa, sl) == 0 && listen(orig, 128) == 0 && (r = calloc(1, sizeof *r))) {
    int nb = fcntl(orig, F_GETFL);
    if (nb >= 0) fcntl(orig, F_SETFL, nb & ~O_NONBLOCK);
    r->box = b;
    r->lfd = orig;
    r->pidfd = pidfd;
    r->cport = port;
    r->host.sin_family = AF_INET;
    r->host.sin_port = htons(p->hport);
    r->host.sin_addr.s_addr = p->any ? htonl(INADDR_LOOPBACK) : p->h4.s_addr;
    read_ips(b, pid);
    struct acceptor *a = malloc(sizeof *a);
    if (a) {
      a->lfd = orig;
      a->host = r->host;
      relays[nrelays++] = r;
      start_thread(accept_main, a);
      orig = pidfd = -1; /* the relay's now */
    } else {
      free(r);
    }
  }
out:
  if (hs >= 0) close(hs);
  if (orig >= 0) close(orig);
  if (pidfd >= 0) close(pidfd);
  return rc;
}

/* The server a connect from b to ip:port may go to through the host: the same container by its
 * loopback, or a container of the same project on a network b is on (so an `internal` network or
 * one b is not attached to stays as apart as without the filter). */
static const struct relay *route(const struct box *b, struct in_addr ip, uint16_t port) {
  bool loop = (ntohl(ip.s_addr) >> 24) == 127;
  for (int i = 0; i < nrelays; i++) {
    const struct relay *r = relays[i];
    if (r->cport != port) continue;
    if (loop ? r->box == b : (!strcmp(r->box->project, b->project) && own_ip(r->box, ip) && on_link(b, ip))) return r;
  }
  return NULL;
}

static int on_connect(struct box *b, const struct seccomp_notif *rq, const struct sockaddr_storage *sa) {
  if (sa->ss_family != AF_INET || !nrelays) return CONTINUE;
  const struct sockaddr_in *s = (const void *)sa;
  read_links(b, (pid_t)rq->pid);
  const struct relay *r = route(b, s->sin_addr, ntohs(s->sin_port));
  if (!r) return CONTINUE;
  pid_t pid = (pid_t)rq->pid;
  int fd = (int)rq->data.args[0];
  int pidfd, orig = target_fd(pid, fd, &pidfd);
  if (orig < 0) return CONTINUE;
  int rc = CONTINUE, hs = -1;
  if (sockopt(orig, SOL_SOCKET, SO_TYPE) != SOCK_STREAM || sockopt(orig, SOL_SOCKET, SO_DOMAIN) != AF_INET) goto out;
  /* only a fresh socket: a second connect() on one already connecting or connected (hiredis asks
   * that way whether a non-blocking connect is done) must see EALREADY/EISCONN from the kernel */
  struct tcp_info ti;
  socklen_t tl = sizeof ti;
  if (getsockopt(orig, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 || ti.tcpi_state != TCP_CLOSE) goto out;
  int fl = fcntl(orig, F_GETFL);
  bool nonblock = fl >= 0 && (fl & O_NONBLOCK);
  hs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (hs < 0) goto out;
  copy_opt(orig, hs, IPPROTO_TCP, TCP_NODELAY);
  copy_opt(orig, hs, SOL_SOCKET, SO_KEEPALIVE);
  int err = connect(hs, (const struct sockaddr *)&r->host, sizeof r->host) == 0 ? 0 : errno;
  if (err == EINPROGRESS && !nonblock) {
    /* a blocking connect: done here (a loopback connect completes at once or is refused) */
    struct pollfd pf = {.fd = hs, .events = POLLOUT};
    if (poll(&pf, 1, 10000) == 1) err = sockopt(hs, SOL_SOCKET, SO_ERROR);
    else err = ETIMEDOUT;
  }
  if (!nonblock) fcntl(hs, F_SETFL, fcntl(hs, F_GETFL) & ~O_NONBLOCK);
  if (install(b->nfd, rq->id, hs, fd, target_cloexec(pid, fd)) < 0) goto out;
  rc = -err;
out:
  if (hs >= 0) close(hs);
  close(orig);
  if (pidfd >= 0) close(pidfd);
  return rc;
}

static void serve(struct box *b, struct seccomp_notif *rq, struct seccomp_notif_resp *rs) {
  memset(rq, 0, sizes.seccomp_notif);
  if (ioctl(b->nfd, SECCOMP_IOCTL_NOTIF_RECV, rq) < 0) return;
  int rc = CONTINUE;
  struct sockaddr_storage sa = {0};
  size_t len = rq->data.args[2];
  if (len >= sizeof(sa_family_t) && len <= sizeof sa) {
    struct iovec local = {.iov_base = &sa, .iov_len = len}, remote = {.iov_base = (void *)(uintptr_t)rq->data.args[1], .iov_len = len};
    /* read, then check the request still stands: the pid is then the same process */
    if (process_vm_readv((pid_t)rq->pid, &local, 1, &remote, 1, 0) == (ssize_t)len && ioctl(b->nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &rq->id) == 0) {
      if (rq->data.nr == SYS_bind) rc = on_bind(b, rq, &sa);
      else if (rq->data.nr == SYS_connect) rc = on_connect(b, rq, &sa);
    }
  }
  memset(rs, 0, sizes.seccomp_notif_resp);
  rs->id = rq->id;
  if (rc == CONTINUE) rs->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  else rs->error = rc;
  ioctl(b->nfd, SECCOMP_IOCTL_NOTIF_SEND, rs); /* ENOENT: the target is gone */
}

/* ------------------------------------------------------------------ control */

/* A runtime's connection: it connects before the container's mounts (while the socket's path
 * is still visible) and sends its listener once the filter is loaded, which under load can take
 * seconds. So connections are read as their bytes come, in the one poll loop: a slow runtime (or a
 * silent client of the same user) holds up neither the others nor any container's bind/connect. */
struct client {
  int fd;
  int nfd;            /* the descriptor received, -1 before */
  size_t len;
  char meta[META_MAX + 1];
};

#define MAX_CLIENTS 64
static struct client *clients[MAX_CLIENTS];
static int nclients;

static void client_end(int i) {
  struct client *k = clients[i];
  close(k->fd);
  if (k->nfd >= 0) close(k->nfd);
  free(k);
  clients[i] = clients[--nclients];
}

static void on_accept(int c) {
  struct ucred cr;
  socklen_t cl = sizeof cr;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.uid != getuid()) {
    logf_("refused a listener from uid %d", (int)cr.uid);
    close(c);
    return;
  }
  struct client *k = nclients < MAX_CLIENTS ? calloc(1, sizeof *k) : NULL;
  if (!k) {
    logf_("refused a listener: %d connections are waiting to send theirs", nclients);
    close(c);
    return;
  }
  k->fd = c;
  k->nfd = -1;
  clients[nclients++] = k;
}

/* The listener and its metadata arrived (one message): kept as a box if it is one; acknowledged. */
static void take(struct client *k) {
  int nfd = k->nfd;
  k->nfd = -1;
  /* only a seccomp listener is kept */
  char path[64], what[64] = "";
  snprintf(path, sizeof path, "/proc/self/fd/%d", nfd);
  ssize_t w = nfd >= 0 ? readlink(path, what, sizeof what - 1) : -1;
  if (w <= 0 || !strstr(what, "seccomp")) goto bad;
  k->meta[k->len] = 0;
  struct box *b = calloc(1, sizeof *b);
  if (!b || nboxes == MAX_BOXES || parse_meta(b, k->meta) < 0) {
    free(b);
    goto bad;
  }
  b->nfd = nfd;
  boxes[nboxes++] = b;
  (void)!write(k->fd, "k", 1);
  return;
bad:
  logf_("refused a malformed listener message");
  if (nfd >= 0) close(nfd);
}

/* Reads what a client sent; true when it is done with (answered, refused or gone). */
static bool on_client(struct client *k) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = k->meta + k->len, .iov_len = META_MAX - k->len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n = recvmsg(k->fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  for (struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(h), sizeof fd);
      if (k->nfd < 0) k->nfd = fd;
      else close(fd);
    }
  if (n <= 0 || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    if (n != 0 || k->nfd >= 0) logf_("refused a malformed listener message");
    return true;
  }
  /* the runtime sends the descriptor and the metadata in one message, then waits for the answer */
  k->len += (size_t)n;
  take(k);
  return true;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tsstack-portd SOCKET\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) {
    logf_("this kernel has no seccomp user notification: %s", strerror(errno));
    return 1;
  }
  struct seccomp_notif *rq = calloc(1, sizes.seccomp_notif < sizeof *rq ? sizeof *rq : sizes.seccomp_notif);
  struct seccomp_notif_resp *rs = calloc(1, sizes.seccomp_notif_resp < sizeof *rs ? sizeof *rs : sizes.seccomp_notif_resp);
  if (sizes.seccomp_notif < sizeof *rq) sizes.seccomp_notif = sizeof *rq;
  if (sizes.seccomp_notif_resp < sizeof *rs) sizes.seccomp_notif_resp = sizeof *rs;
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof un.sun_path) {
    logf_("socket path too long: %s", argv[1]);
    return 2;
  }
  strcpy(un.sun_path, argv[1]);
  int ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  umask(077);
  unlink(un.sun_path);
  if (ctl < 0 || bind(ctl, (struct sockaddr *)&un, sizeof un) < 0 || listen(ctl, 64) < 0) {
    logf_("cannot listen on %s: %s", un.sun_path, strerror(errno));
    return 1;
  }
  struct pollfd p[1 + MAX_BOXES + MAX_RELAYS + MAX_CLIENTS];
  for (;;) {
    int n = 0;
    p[n++] = (struct pollfd){.fd = ctl, .events = POLLIN};
    for (int i = 0; i < nboxes; i++) p[n++] = (struct pollfd){.fd = boxes[i]->nfd, .events = POLLIN};
    for (int i = 0; i < nrelays; i++) p[n++] = (struct pollfd){.fd = relays[i]->pidfd, .events = POLLIN};
    for (int i = 0; i < nclients; i++) p[n++] = (struct pollfd){.fd = clients[i]->fd, .events = POLLIN};
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      logf_("poll: %s", strerror(errno));
      return 1;
    }
    int nb = nboxes, nr = nrelays, nc = nclients;
    /* clients first (back to front): a box they add is polled from the next round */
    for (int i = nc - 1; i >= 0; i--)
      if (p[1 + nb + nr + i].revents && on_client(clients[i])) client_end(i);
    /* relays whose process ended, then boxes whose every process ended (back to front: ends swap in the last) */
    for (int i = nr - 1; i >= 0; i--)
      if (p[1 + nb + i].revents) relay_end(i);
    for (int i = nb - 1; i >= 0; i--) {
      short ev = p[1 + i].revents;
      if (ev & POLLIN) serve(boxes[i], rq, rs);
      else if (ev & (POLLHUP | POLLERR | POLLNVAL)) box_end(i);
    }
    if (p[0].revents & POLLIN) {
      int c = accept4(ctl, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0) on_accept(c);
    }
  }
}
