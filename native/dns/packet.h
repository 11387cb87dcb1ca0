// DNS wire format (RFC 1035, EDNS0 per RFC 6891): parse one query, build replies.
// Pure: no IO, no allocation.
#ifndef TSSTACK_DNS_PACKET_H
#define TSSTACK_DNS_PACKET_H
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR 12
#define DNS_MAXNAME 256

enum { DNS_T_A = 1, DNS_T_PTR = 12, DNS_T_AAAA = 28, DNS_T_OPT = 41, DNS_T_ANY = 255 };
enum { DNS_C_IN = 1, DNS_C_ANY = 255 };
enum { DNS_R_OK = 0, DNS_R_FORMERR = 1, DNS_R_SERVFAIL = 2, DNS_R_NXDOMAIN = 3, DNS_R_NOTIMP = 4, DNS_R_REFUSED = 5 };

struct dns_query {
  uint16_t id;
  uint16_t flags;          // as received
  int opcode;
  char name[DNS_MAXNAME];  // lower-cased, dotted, no trailing dot; "" is the root
  uint16_t qtype, qclass;
  size_t qend;             // offset just past the question section
  int edns;                // query carried an OPT record
  uint16_t edns_size;      // requestor's UDP payload size (>= 512) when edns
};

/* Parses `len` bytes. Returns 0 on success; otherwise a DNS rcode to answer with
   (FORMERR/NOTIMP) when a header was readable, or -1 when the packet is not worth
   an answer (shorter than a header, or itself a response). */
int dns_parse_query(const uint8_t *buf, size_t len, struct dns_query *q);

/* Answer builder over a caller's buffer. Answers whose owner is the question
   name use a compression pointer to it, so the client's spelling is echoed. */
struct dns_reply {
  uint8_t *buf;
  size_t cap;   // hard limit for this transport (UDP payload size or 65535)
  size_t len;
  uint16_t ancount;
  int truncated;
};

/* Header + copy of the question. `aa` marks an authoritative (local) answer. */
int dns_reply_begin(struct dns_reply *r, const uint8_t *query, const struct dns_query *q, int rcode, int aa);
/* Adds an A (alen 4) or AAAA (alen 16) record for the question name. Sets TC when full. */
void dns_reply_addr(struct dns_reply *r, uint32_t ttl, const uint8_t *addr, int alen);
/* Adds a PTR record for the question name pointing at dotted `target`. */
void dns_reply_ptr(struct dns_reply *r, uint32_t ttl, const char *target);
/* Appends an OPT record when the query had one, and writes the final counts. Returns the length. */
size_t dns_reply_end(struct dns_reply *r, const struct dns_query *q);

/* Minimal error reply built from a raw query (used when parsing failed or an upstream failed). */
size_t dns_error_reply(const uint8_t *query, size_t qlen, uint8_t *out, size_t cap, int rcode);

/* in-addr.arpa / ip6.arpa name → address. Returns 4 or 16, or 0 if `name` is not a full reverse name. */
int dns_reverse_addr(const char *name, uint8_t out[16]);

#endif
