// Listeners: UDP and TCP port 53 on each network's gateway address. The local
// address a query arrived on selects the network whose names it sees; when the
// query's source is a container's address on that network, it also sees the names
// of the container's other networks (records_view).
#ifndef TSSTACK_DNS_SERVER_H
#define TSSTACK_DNS_SERVER_H
#include <stdint.h>
#include "forward.h"
#include "records.h"

/* epoll data.u64 = ((uint64_t)EV_x << 32) | fd */
enum { EV_SIGNAL = 1, EV_INOTIFY, EV_UDP, EV_TCP_LISTEN, EV_TCP_CONN, EV_UPSTREAM, EV_UPSTREAM_TCP, EV_LIVE, EV_LIVE_PID, EV_NFT };

void server_init(int epfd, uint16_t port);
/* Binds the gateways of `r` not bound yet and closes those that are gone. `r` is
   used for every later query until the next call. Each network whose gateway could
   not be bound is logged, appended to `unbound` as "unbound NETWORK ADDR\n" lines
   (truncated at `len`), and retried on the next call. Returns their count. */
int server_sync(const struct records *r, char *unbound, size_t len);
void server_on_event(uint32_t kind, int fd, uint32_t events, int64_t now_ms);
/* Earliest idle deadline of a TCP connection, or -1. */
int64_t server_next_deadline(void);
void server_expire(int64_t now_ms);
void server_close_all(void);
/* forward_deliver_fn: sends a reply to a client. */
void server_deliver(const struct fwd_client *c, const uint8_t *buf, size_t len);

#endif
