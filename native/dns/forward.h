// Forwarding of non-local queries to upstream resolvers over UDP, with a deadline
// per upstream (each gets at most FORWARD_TIMEOUT_MS, then the next is tried; after
// the last, the client gets SERVFAIL). A truncated upstream reply to a client that
// asked over TCP is retried over TCP to the same upstream (RFC 7766), in the same
// deadline.
#ifndef TSSTACK_DNS_FORWARD_H
#define TSSTACK_DNS_FORWARD_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "records.h"

#define FORWARD_TIMEOUT_MS 1000

/* Who asked: a UDP listener socket + peer address, or a TCP connection (fd + generation,
   so a reply for a connection that was closed and whose fd got reused is dropped). */
struct fwd_client {
  int tcp;
  int fd;
  uint32_t gen;
  struct sockaddr_storage addr;
  socklen_t alen;
};

/* Called with a complete reply (id already restored) for `c`. */
typedef void (*forward_deliver_fn)(const struct fwd_client *c, const uint8_t *buf, size_t len);

/* Registers the upstream sockets with epoll (data.u64 = (tag << 32) | fd); TCP
   connections to upstreams are registered with `tcp_tag`. */
int forward_init(int epfd, uint32_t tag, uint32_t tcp_tag, forward_deliver_fn deliver);
/* Replaces the upstream list (copied). Queries in flight keep going to the old ones. */
void forward_set_upstreams(const struct rec_upstream *ups, size_t n);
size_t forward_upstream_count(void);
/* Sends `query` upstream on behalf of `c`. Returns -1 when it cannot (no upstream,
   table full): the caller answers SERVFAIL. */
int forward_query(const uint8_t *query, size_t len, const struct fwd_client *c, int64_t now_ms);
void forward_on_readable(int fd, int64_t now_ms);
void forward_on_tcp(int fd, uint32_t events, int64_t now_ms);
/* Earliest deadline in flight, or -1. */
int64_t forward_next_deadline(void);
void forward_expire(int64_t now_ms);
/* Forgets queries whose client is the UDP socket `fd` (its listener went away). */
void forward_drop_fd(int fd);

#endif
