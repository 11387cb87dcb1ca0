// Local resolution over the records of the networks a query may see.
#include "answer.h"
#include <string.h>

static size_t reply_rcode(const uint8_t *query, const struct dns_query *q, uint8_t *out, size_t cap, int rcode, int aa) {
  struct dns_reply rep = { .buf = out, .cap = cap };
  if (dns_reply_begin(&rep, query, q, rcode, aa) < 0) return 0;
  return dns_reply_end(&rep, q);
}

/* Finds `name` on `net`, also with one of the search domains stripped. A name whose
   containers all have stopped running is not there (as if its records were gone). */
static size_t find_name(const struct records *r, int net, const char *name, size_t *first) {
  size_t n = records_find(r, net, name, first);
  if (n && records_count_up(r, *first, n)) return n;
  size_t nl = strlen(name);
  for (size_t i = 0; i < r->nsearch; i++) {
    size_t sl = strlen(r->search[i]);
    if (sl == 0 || nl <= sl + 1 || name[nl - sl - 1] != '.' || strcmp(name + nl - sl, r->search[i]) != 0) continue;
    char base[DNS_MAXNAME];
    memcpy(base, name, nl - sl - 1);
    base[nl - sl - 1] = 0;
    if ((n = records_find(r, net, base, first)) && records_count_up(r, *first, n)) return n;
  }
  return 0;
}

/* What to do with a name that is not local: forward (0), or refuse when every network of the
   asker's view is internal. As with Docker, a container on an internal network and on one with
   egress resolves outside names whichever gateway it asks (its view holds all its networks). */
static size_t not_local(const struct records *r, const int *nets, size_t nn, const uint8_t *query, const struct dns_query *q, uint8_t *out, size_t cap) {
  for (size_t v = 0; v < nn; v++)
    if (!r->nets[nets[v]].internal) return 0;
  return reply_rcode(query, q, out, cap, DNS_R_REFUSED, 0);
}

size_t answer_local(const struct records *r, int net, const uint8_t *query, const struct dns_query *q, unsigned rot, uint8_t *out, size_t cap) {
  return answer_view(r, &net, net < 0 ? 0 : 1, query, q, rot, out, cap);
}

size_t answer_view(const struct records *r, const int *nets, size_t nn, const uint8_t *query, const struct dns_query *q, unsigned rot, uint8_t *out, size_t cap) {
  if (nn == 0) return reply_rcode(query, q, out, cap, DNS_R_REFUSED, 0);
  if (q->qclass != DNS_C_IN && q->qclass != DNS_C_ANY) return not_local(r, nets, nn, query, q, out, cap);
  struct dns_reply rep = { .buf = out, .cap = cap };

  struct ipaddr rev;
  if ((rev.len = dns_reverse_addr(q->name, rev.b))) {
    for (size_t v = 0; v < nn; v++) {
      const char *target = records_ptr(r, nets[v], &rev);
      if (!target) continue;
      if (dns_reply_begin(&rep, query, q, DNS_R_OK, 1) < 0) return 0;
      if (q->qtype == DNS_T_PTR || q->qtype == DNS_T_ANY) dns_reply_ptr(&rep, r->ttl, target);
      return dns_reply_end(&rep, q);
    }
    for (size_t v = 0; v < nn; v++) {
      const struct rec_net *n = &r->nets[nets[v]];
      if (n->prefix >= 0 && ipaddr_in(&rev, &n->gw, n->prefix)) return reply_rcode(query, q, out, cap, DNS_R_NXDOMAIN, 1);
    }
    return not_local(r, nets, nn, query, q, out, cap);
  }

  size_t first = 0, count = 0;
  for (size_t v = 0; v < nn && !count; v++) count = find_name(r, nets[v], q->name, &first);
  if (count == 0) {
    if (q->name[0] && !strchr(q->name, '.')) return reply_rcode(query, q, out, cap, DNS_R_NXDOMAIN, 1);
    return not_local(r, nets, nn, query, q, out, cap);
  }
  if (dns_reply_begin(&rep, query, q, DNS_R_OK, 1) < 0) return 0;
  for (size_t k = 0; k < count; k++) {
    size_t i = first + (k + rot) % count;
    if (!records_addr_up(r, i)) continue;
    const struct ipaddr *a = &r->addrs[i].addr;
    int want = q->qtype == DNS_T_ANY || (q->qtype == DNS_T_A && a->len == 4) || (q->qtype == DNS_T_AAAA && a->len == 16);
    if (want) dns_reply_addr(&rep, r->ttl, a->b, a->len);
  }
  return dns_reply_end(&rep, q);  // no matching family or type: NODATA
}
