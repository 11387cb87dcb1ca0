// Local resolution: decides whether a query is answered from the records or forwarded.
// Pure: no IO.
#ifndef TSSTACK_DNS_ANSWER_H
#define TSSTACK_DNS_ANSWER_H
#include "packet.h"
#include "records.h"

/* Answers `q` (parsed from `query`) for network `net` (-1: the address it arrived on
   belongs to no network any more). Returns the reply length written to `out` (at most
   `cap`), or 0 when the query must be forwarded upstream.
   Local names never go upstream: a known name gets its records or NODATA; an unknown
   single-label name (also one whose containers are all down: records_addr_up), or a reverse name inside a network's subnet, gets NXDOMAIN.
   On an internal network nothing is forwarded: other names are REFUSED at once.
   Addresses of a name are rotated by `rot` (a per-query counter), so clients that
   take the first answer spread over the replicas. */
size_t answer_local(const struct records *r, int net, const uint8_t *query, const struct dns_query *q, unsigned rot, uint8_t *out, size_t cap);

/* The same over a view (records_view): the networks nets[0..n), nets[0] being the one
   the query arrived on. A name or reverse address is answered from the first network
   of the view that has it (so the arrival network wins when several do); NXDOMAIN for
   a reverse name inside any of their subnets. Names not local may be forwarded
   unless every network of the view is internal. n == 0: REFUSED. */
size_t answer_view(const struct records *r, const int *nets, size_t n, const uint8_t *query, const struct dns_query *q, unsigned rot, uint8_t *out, size_t cap);

#endif
