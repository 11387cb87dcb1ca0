// UDP/TCP listeners per gateway address and the TCP connections they accept.
#include "server.h"
#include "answer.h"
#include "packet.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LISTENERS 256
#define MAX_CONNS 64
#define CONN_BUF 4096
#define CONN_IDLE_MS 10000
#define MAX_VIEW 64  // networks of one container whose names it sees

struct listener { struct ipaddr addr; int udp, tcp; };
struct conn {
  int fd;
  uint32_t gen;
  struct ipaddr local, peer;
  int64_t deadline;
  size_t have;
  uint8_t buf[CONN_BUF];
};

static int epfd;
static uint16_t port;
static const struct records *recs;
static struct listener listeners[MAX_LISTENERS];
static size_t nlisteners;
static struct conn *conns[MAX_CONNS];
static uint32_t next_gen = 1;

void server_init(int ep, uint16_t p) { epfd = ep; port = p; }

static void watch(int fd, uint32_t kind) {
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)kind << 32) | (uint32_t)fd };
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static const char *fmt_addr(const struct ipaddr *a, char *buf, size_t len) {
  return inet_ntop(a->len == 4 ? AF_INET : AF_INET6, a->b, buf, (socklen_t)len);
}

/* A socket bound to addr:port. FREEBIND lets us bind before the bridge has its address. */
static int bind_one(const struct ipaddr *a, int type) {
  int fam = a->len == 4 ? AF_INET : AF_INET6, one = 1;
  int fd = socket(fam, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one);
  if (fam == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (fam == AF_INET) {
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    memcpy(&s->sin_addr, a->b, 4);
    sl = sizeof *s;
  } else {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    memcpy(&s->sin6_addr, a->b, 16);
    sl = sizeof *s;
  }
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (type == SOCK_STREAM && listen(fd, 64) < 0)) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static void note_unbound(char *buf, size_t len, size_t *used, const char *net, const char *addr) {
  if (*used >= len) return;
  int n = snprintf(buf + *used, len - *used, "unbound %s %s\n", net, addr);
  if (n > 0 && (size_t)n < len - *used) *used += (size_t)n;
  else buf[*used] = 0;
}

static void close_listener(struct listener *l) {
  forward_drop_fd(l->udp);
  close(l->udp);  // closing removes it from epoll
  close(l->tcp);
}

int server_sync(const struct records *r, char *unbound, size_t len) {
  size_t used = 0;
  if (len) unbound[0] = 0;
  recs = r;
  // Drop listeners whose gateway is gone.
  for (size_t i = 0; i < nlisteners;) {
    if (records_net_by_gateway(r, &listeners[i].addr) >= 0) { i++; continue; }
    close_listener(&listeners[i]);
    listeners[i] = listeners[--nlisteners];
  }
  int failed = 0;
  for (size_t n = 0; n < r->nnets; n++) {
    const struct ipaddr *gw = &r->nets[n].gw;
    int have = 0;
    for (size_t i = 0; i < nlisteners && !have; i++) have = ipaddr_eq(&listeners[i].addr, gw);
    if (have) continue;
    char txt[64];
    if (nlisteners == MAX_LISTENERS) {
      fprintf(stderr, "tsstack-dns: network %s: too many networks (max %d)\n", r->nets[n].name, MAX_LISTENERS);
      note_unbound(unbound, len, &used, r->nets[n].name, fmt_addr(gw, txt, sizeof txt));
      failed++;
      continue;
    }
    int udp = bind_one(gw, SOCK_DGRAM);
    int tcp = udp < 0 ? -1 : bind_one(gw, SOCK_STREAM);
    if (udp < 0 || tcp < 0) {
      fprintf(stderr, "tsstack-dns: network %s: cannot listen on %s port %u: %s\n", r->nets[n].name, fmt_addr(gw, txt, sizeof txt), port, strerror(errno));
      if (udp >= 0) close(udp);
      note_unbound(unbound, len, &used, r->nets[n].name, txt);
      failed++;
      continue;
    }
    listeners[nlisteners++] = (struct listener){ .addr = *gw, .udp = udp, .tcp = tcp };
    watch(udp, EV_UDP);
    watch(tcp, EV_TCP_LISTEN);
  }
  return failed;
}

static const struct listener *listener_by_fd(int fd) {
  for (size_t i = 0; i < nlisteners; i++)
    if (listeners[i].udp == fd || listeners[i].tcp == fd) return &listeners[i];
  return NULL;
}

static struct conn *conn_by_fd(int fd) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i] && conns[i]->fd == fd) return conns[i];
  return NULL;
}

static void conn_close(struct conn *c) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i] == c) conns[i] = NULL;
  close(c->fd);
  free(c);
}

void server_deliver(const struct fwd_client *c, const uint8_t *buf, size_t len) {
  if (!c->tcp) {
    sendto(c->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&c->addr, c->alen);
    return;
  }
  struct conn *k = conn_by_fd(c->fd);
  if (!k || k->gen != c->gen || len > 65535) return;
  uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
  struct iovec iov[2] = { { hdr, 2 }, { (void *)buf, len } };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
  // Replies are small; a client that does not read them is dropped rather than buffered for.
  if (sendmsg(k->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(len + 2)) conn_close(k);
}

/* A socket address's IP; len 0 when it is neither IPv4 nor IPv6. */
static struct ipaddr ip_of(const struct sockaddr_storage *ss) {
  struct ipaddr a = { 0 };
  if (ss->ss_family == AF_INET) {
    a.len = 4;
    memcpy(a.b, &((const struct sockaddr_in *)ss)->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    a.len = 16;
    memcpy(a.b, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
  }
  return a;
}

/* One query from `peer` whose packet arrived on `local`. `cap` bounds the reply size.
   A peer that is a container on the arrival network sees all of its networks' names. */
static void handle(const uint8_t *q, size_t len, const struct ipaddr *local, const struct ipaddr *peer, const struct fwd_client *c, size_t tcp_cap, int64_t now) {
  static uint8_t out[65535];
  struct dns_query dq;
  int rc = dns_parse_query(q, len, &dq);
  if (rc < 0) return;
  size_t n;
  if (rc > 0) {
    n = dns_error_reply(q, len, out, 512, rc);
  } else {
    size_t cap = tcp_cap ? tcp_cap : dq.edns ? (dq.edns_size > 4096 ? 4096 : dq.edns_size) : 512;
    static unsigned rot;
    int view[MAX_VIEW];
    size_t nv = records_view(recs, records_net_by_gateway(recs, local), peer, view, MAX_VIEW);
    n = answer_view(recs, view, nv, q, &dq, rot++, out, cap);
    if (n == 0) {
      if (forward_query(q, len, c, now) == 0) return;
      n = dns_error_reply(q, len, out, cap, DNS_R_SERVFAIL);
    }
  }
  if (n) server_deliver(c, out, n);
}

static void on_udp(int fd, int64_t now) {
  static uint8_t buf[4096];
  const struct listener *l = listener_by_fd(fd);
  if (!l) return;
  struct ipaddr local = l->addr;
  for (int i = 0; i < 64; i++) {  // bounded batch, so TCP and upstream replies get their turn
    struct fwd_client c = { .tcp = 0, .fd = fd, .alen = sizeof c.addr };
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&c.addr, &c.alen);
    if (n < 0) return;
    struct ipaddr peer = ip_of(&c.addr);
    handle(buf, (size_t)n, &local, &peer, &c, 0, now);
  }
}

static void on_accept(int fd, int64_t now) {
  const struct listener *l = listener_by_fd(fd);
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) return;
    int slot = -1;
    for (int i = 0; i < MAX_CONNS && slot < 0; i++)
      if (!conns[i]) slot = i;
    struct conn *k = slot < 0 || !l ? NULL : malloc(sizeof *k);
    if (!k) { close(cfd); continue; }
    k->fd = cfd;
    k->gen = next_gen++;
    k->local = l->addr;
    k->peer = ip_of(&ss);
    k->deadline = now + CONN_IDLE_MS;
    k->have = 0;
    conns[slot] = k;
    watch(cfd, EV_TCP_CONN);
  }
}

static void on_conn(int fd, uint32_t events, int64_t now) {
  struct conn *k = conn_by_fd(fd);
  if (!k) { close(fd); return; }
  ssize_t n = recv(fd, k->buf + k->have, CONN_BUF - k->have, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { conn_close(k); return; }
  if (n < 0) return;
  k->have += (size_t)n;
  k->deadline = now + CONN_IDLE_MS;
  uint32_t gen = k->gen;
  // Messages are length-prefixed (RFC 1035 §4.2.2); several may be pipelined.
  while (k->have >= 2) {
    size_t mlen = (size_t)k->buf[0] << 8 | k->buf[1];
    if (mlen + 2 > CONN_BUF) { conn_close(k); return; }
    if (k->have < mlen + 2) break;
    uint8_t msg[CONN_BUF];
    memcpy(msg, k->buf + 2, mlen);
    memmove(k->buf, k->buf + 2 + mlen, k->have - mlen - 2);
    k->have -= mlen + 2;
    struct fwd_client c = { .tcp = 1, .fd = fd, .gen = gen };
    struct ipaddr local = k->local, peer = k->peer;
    handle(msg, mlen, &local, &peer, &c, 65535, now);
    if (conn_by_fd(fd) != k || k->gen != gen) return;  // closed by a failed reply
  }
}

void server_on_event(uint32_t kind, int fd, uint32_t events, int64_t now) {
  if (kind == EV_UDP) on_udp(fd, now);
  else if (kind == EV_TCP_LISTEN) on_accept(fd, now);
  else if (kind == EV_TCP_CONN) on_conn(fd, events, now);
}

int64_t server_next_deadline(void) {
  int64_t d = -1;
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i] && (d < 0 || conns[i]->deadline < d)) d = conns[i]->deadline;
  return d;
}

void server_expire(int64_t now) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i] && conns[i]->deadline <= now) conn_close(conns[i]);
}

void server_close_all(void) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i]) conn_close(conns[i]);
  for (size_t i = 0; i < nlisteners; i++) close_listener(&listeners[i]);
  nlisteners = 0;
}
