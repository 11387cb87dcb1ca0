// Upstream forwarding: a fixed table of queries in flight, matched by (upstream, id).
#include "forward.h"
#include "packet.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_PENDING 256
#define MAX_UPSTREAMS 8

struct pending {
  int used;
  uint16_t client_id, up_id;
  struct rec_upstream up;  // where it went (copied: the list may change meanwhile)
  int next_up;             // index in the current list to try after a timeout
  int64_t deadline;
  struct fwd_client client;
  uint8_t *query;
  size_t qlen;
  int tcp_fd;      // > 0 while retrying over TCP
  int tcp_sent;
  uint8_t *tbuf;   // the TCP reply being read: 2-byte length + message
  size_t thave;
};

static struct pending table[MAX_PENDING];
static struct rec_upstream ups[MAX_UPSTREAMS];
static size_t nups;
static int sock4 = -1, sock6 = -1;
static forward_deliver_fn deliver_cb;
static int epoll_fd;
static uint32_t tcp_ev_tag;

int forward_init(int epfd, uint32_t tag, uint32_t tcp_tag, forward_deliver_fn deliver) {
  deliver_cb = deliver;
  epoll_fd = epfd;
  tcp_ev_tag = tcp_tag;
  sock4 = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (sock4 < 0) return -1;
  sock6 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);  // may fail without IPv6
  int fds[2] = { sock4, sock6 };
  for (int i = 0; i < 2; i++) {
    if (fds[i] < 0) continue;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)tag << 32) | (uint32_t)fds[i] };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0) return -1;
  }
  return 0;
}

void forward_set_upstreams(const struct rec_upstream *list, size_t n) {
  nups = n > MAX_UPSTREAMS ? MAX_UPSTREAMS : n;
  memcpy(ups, list, nups * sizeof *ups);
}

size_t forward_upstream_count(void) { return nups; }

static socklen_t to_sockaddr(const struct rec_upstream *u, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (u->addr.len == 4) {
    struct sockaddr_in *s = (struct sockaddr_in *)ss;
    s->sin_family = AF_INET;
    s->sin_port = htons(u->port);
    memcpy(&s->sin_addr, u->addr.b, 4);
    return sizeof *s;
  }
  struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(u->port);
  memcpy(&s->sin6_addr, u->addr.b, 16);
  return sizeof *s;
}

static int id_in_use(uint16_t id) {
  for (int i = 0; i < MAX_PENDING; i++)
    if (table[i].used && table[i].up_id == id) return 1;
  return 0;
}

/* Sends p's query to upstream index `idx` of the current list; -1 if none left or all fail. */
static int send_to(struct pending *p, size_t idx, int64_t now) {
  for (; idx < nups; idx++) {
    int fd = ups[idx].addr.len == 4 ? sock4 : sock6;
    if (fd < 0) continue;
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(&ups[idx], &ss);
    uint16_t id;
    do {
      if (getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id) id = (uint16_t)rand();
    } while (id_in_use(id));
    p->up_id = id;
    p->query[0] = id >> 8;
    p->query[1] = id & 0xff;
    if (sendto(fd, p->query, p->qlen, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) continue;
    p->up = ups[idx];
    p->next_up = (int)idx + 1;
    p->deadline = now + FORWARD_TIMEOUT_MS;
    return 0;
  }
  return -1;
}

static void release(struct pending *p) {
  if (p->tcp_fd > 0) close(p->tcp_fd);
  free(p->tbuf);
  free(p->query);
  memset(p, 0, sizeof *p);
}

int forward_query(const uint8_t *query, size_t len, const struct fwd_client *c, int64_t now) {
  if (nups == 0 || len < DNS_HDR) return -1;
  struct pending *p = NULL;
  for (int i = 0; i < MAX_PENDING && !p; i++)
    if (!table[i].used) p = &table[i];
  if (!p || !(p->query = malloc(len))) return -1;
  memcpy(p->query, query, len);
  p->qlen = len;
  p->used = 1;
  p->client = *c;
  p->client_id = (uint16_t)(query[0] << 8 | query[1]);
  if (send_to(p, 0, now) < 0) {
    release(p);
    return -1;
  }
  return 0;
}

static void fail(struct pending *p) {
  uint8_t out[512];
  p->query[0] = p->client_id >> 8;
  p->query[1] = p->client_id & 0xff;
  size_t n = dns_error_reply(p->query, p->qlen, out, sizeof out, DNS_R_SERVFAIL);
  if (n) deliver_cb(&p->client, out, n);
  release(p);
}

static int from_upstream(const struct pending *p, const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET && p->up.addr.len == 4) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    return ntohs(s->sin_port) == p->up.port && memcmp(&s->sin_addr, p->up.addr.b, 4) == 0;
  }
  if (ss->ss_family == AF_INET6 && p->up.addr.len == 16) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    return ntohs(s->sin6_port) == p->up.port && memcmp(&s->sin6_addr, p->up.addr.b, 16) == 0;
  }
  return 0;
}

/* Opens a TCP connection to p's upstream; the query is sent once it is writable. */
static int start_tcp(struct pending *p) {
  struct sockaddr_storage ss;
  socklen_t sl = to_sockaddr(&p->up, &ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if ((connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) || !(p->tbuf = malloc(65537))) {
    close(fd);
    return -1;
  }
  struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u64 = ((uint64_t)tcp_ev_tag << 32) | (uint32_t)fd };
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    close(fd);
    return -1;
  }
  p->tcp_fd = fd;
  p->tcp_sent = 0;
  p->thave = 0;
  p->next_up = (int)nups;  // a TCP failure ends with SERVFAIL rather than another upstream
  return 0;
}

void forward_on_tcp(int fd, uint32_t events, int64_t now) {
  struct pending *p = NULL;
  for (int i = 0; i < MAX_PENDING && !p; i++)
    if (table[i].used && table[i].tcp_fd == fd) p = &table[i];
  if (!p) { close(fd); return; }
  if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) { fail(p); return; }
  if (!p->tcp_sent && (events & EPOLLOUT)) {
    uint8_t hdr[2] = { (uint8_t)(p->qlen >> 8), (uint8_t)p->qlen };
    struct iovec iov[2] = { { hdr, 2 }, { p->query, p->qlen } };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
    if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(p->qlen + 2)) { fail(p); return; }
    p->tcp_sent = 1;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)tcp_ev_tag << 32) | (uint32_t)fd };
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev);
  }
  if (!(events & EPOLLIN)) return;
  ssize_t n = recv(fd, p->tbuf + p->thave, 65537 - p->thave, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN)) { fail(p); return; }
  if (n < 0) return;
  p->thave += (size_t)n;
  if (p->thave < 2) return;
  size_t mlen = (size_t)p->tbuf[0] << 8 | p->tbuf[1];
  if (p->thave < mlen + 2) return;
  if (mlen < DNS_HDR) { fail(p); return; }
  p->tbuf[2] = p->client_id >> 8;
  p->tbuf[3] = p->client_id & 0xff;
  deliver_cb(&p->client, p->tbuf + 2, mlen);
  release(p);
}

void forward_on_readable(int fd, int64_t now) {
  static uint8_t buf[65536];
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
    if (n < 0) return;
    if (n < DNS_HDR || !(buf[2] & 0x80)) continue;
    uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
    for (int i = 0; i < MAX_PENDING; i++) {
      struct pending *p = &table[i];
      if (!p->used || p->up_id != id || !from_upstream(p, &ss)) continue;
      if (p->tcp_fd > 0) break;  // already retrying over TCP
      if (p->client.tcp && (buf[2] & 0x02) && start_tcp(p) == 0) break;
      buf[0] = p->client_id >> 8;
      buf[1] = p->client_id & 0xff;
      deliver_cb(&p->client, buf, (size_t)n);
      release(p);
      break;
    }
  }
}

int64_t forward_next_deadline(void) {
  int64_t d = -1;
  for (int i = 0; i < MAX_PENDING; i++)
    if (table[i].used && (d < 0 || table[i].deadline < d)) d = table[i].deadline;
  return d;
}

void forward_expire(int64_t now) {
  for (int i = 0; i < MAX_PENDING; i++) {
    struct pending *p = &table[i];
    if (!p->used || p->deadline > now) continue;
    if (send_to(p, (size_t)p->next_up, now) < 0) fail(p);
  }
}

void forward_drop_fd(int fd) {
  for (int i = 0; i < MAX_PENDING; i++)
    if (table[i].used && !table[i].client.tcp && table[i].client.fd == fd) release(&table[i]);
}
