// The records file the engine writes (<runRoot>/dns/records), one directive a line:
//   serial N                    generation, echoed in the status file after a load
//   ttl N                       TTL of local answers (default 5)
//   search DOMAIN               suffix stripped before a local lookup (host search domains)
//   upstream ADDR [PORT]        resolvers to forward to; none = read resolv.conf
//   net NETWORK GATEWAY[/LEN] [internal]  a network, answered on its gateway address;
//                               `internal`: names not local are refused, never forwarded
//   a NETWORK NAME ADDR         NAME resolves to ADDR (A or AAAA by family) on NETWORK
//   ptr NETWORK ADDR NAME       ADDR reverse-resolves to NAME on NETWORK; NAME is the
//                               container's own (host-unique) name, so the ptr lines of
//                               one NAME are that container's endpoints (records_view)
//   state NAME FILE             the container NAME (as in its ptr lines) is answered only
//                               while FILE, its monitor's state.json, says it is running:
//                               its ptr lines and the a lines of its addresses go quiet
//                               while it has exited or waits to restart, or while the
//                               monitor named in FILE has died (live.h). FILE is the rest
//                               of the line. A container with no state line, or whose FILE
//                               is missing or unreadable, is always answered (the
//                               behaviour before this directive).
// Names are lower case without a trailing dot. '#' starts a comment line; unknown
// directives are ignored so that older servers read newer files.
#ifndef TSSTACK_DNS_RECORDS_H
#define TSSTACK_DNS_RECORDS_H
#include <stddef.h>
#include <stdint.h>

struct ipaddr { int len; uint8_t b[16]; };  // len 4 or 16

struct rec_net { const char *name; struct ipaddr gw; int prefix; int internal; };
/* A container whose answers follow its monitor's state file. `up` is the cached
   liveness (1 until live.c has read the file); `wd` (watch on its directory), `pid` and
   `pidfd` (the monitor that wrote "running") belong to live.c. */
struct rec_state { const char *name, *path, *file; int up; int wd; long pid; int pidfd; };  // file: basename of path
struct rec_addr { int net; const char *name; struct ipaddr addr; int32_t state; };  // state: index or -1
struct rec_ptr {
  int net; struct ipaddr addr; const char *name;
  uint32_t group, ngroup;  // this name's ptrs: records.by_name[group .. group+ngroup)
  int32_t state;           // index in records.states, or -1 (always answered)
};
struct rec_upstream { struct ipaddr addr; uint16_t port; };

struct records {
  char *text;  // the file; every string above points into it
  unsigned long serial;
  uint32_t ttl;
  struct rec_net *nets; size_t nnets;
  struct rec_addr *addrs; size_t naddrs;  // sorted by (net, name)
  struct rec_ptr *ptrs; size_t nptrs;    // sorted by (addr, net, name)
  uint32_t *by_name;                      // ptr indices sorted by (name, net, addr)
  const char **search; size_t nsearch;
  struct rec_upstream *ups; size_t nups;
  struct rec_state *states; size_t nstates;  // sorted by name
};

/* Parses the file text (takes ownership of `text`, a NUL-terminated malloc'd buffer).
   Returns NULL and fills err (naming the line) on a malformed file. */
struct records *records_parse(char *text, char *err, size_t errlen);
/* Reads and parses `path`; a missing file is an empty record set. */
struct records *records_load(const char *path, char *err, size_t errlen);
void records_free(struct records *r);

int ipaddr_parse(const char *s, struct ipaddr *out);
int ipaddr_eq(const struct ipaddr *a, const struct ipaddr *b);
/* Whether `a` is inside net/prefix. */
int ipaddr_in(const struct ipaddr *a, const struct ipaddr *net, int prefix);

/* Network whose gateway is `gw`, or -1. */
int records_net_by_gateway(const struct records *r, const struct ipaddr *gw);
/* Addresses of `name` on network `net`: index of the first and count (0 when unknown),
   answered or not (records_addr_up tells). */
size_t records_find(const struct records *r, int net, const char *name, size_t *first);
/* Whether addrs[i] / ptrs[i] may be answered now (its container runs, or has no state file). */
static inline int records_addr_up(const struct records *r, size_t i) {
  return r->addrs[i].state < 0 || r->states[r->addrs[i].state].up;
}
static inline int records_ptr_up(const struct records *r, size_t i) {
  return r->ptrs[i].state < 0 || r->states[r->ptrs[i].state].up;
}
/* How many of the `count` addresses from `first` (a records_find range) may be answered. */
size_t records_count_up(const struct records *r, size_t first, size_t count);
/* PTR target for `addr` on `net` whose container may be answered, or NULL. */
const char *records_ptr(const struct records *r, int net, const struct ipaddr *addr);
/* The networks whose names a query from `src` that arrived on `net` sees, written to
   `nets` (at most `max`): `net` first; then, when `src` is a container's address on
   `net`, the container's other networks in file order. Returns the count: 0 when
   net < 0, 1 for a source that is no container on `net`. Liveness plays no part here. */
size_t records_view(const struct records *r, int net, const struct ipaddr *src, int *nets, size_t max);

#endif
