// DNS wire format: query parsing and reply building (RFC 1035 §4, RFC 6891 §6).
#include "packet.h"
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v >> 16); wr16(p + 2, v & 0xffff); }

/* Skips a possibly compressed name starting at `off`; returns the offset after it or 0. */
static size_t skip_name(const uint8_t *b, size_t len, size_t off) {
  while (off < len) {
    uint8_t l = b[off];
    if (l == 0) return off + 1;
    if ((l & 0xc0) == 0xc0) return off + 2 <= len ? off + 2 : 0;
    if (l & 0xc0) return 0;
    off += 1 + l;
  }
  return 0;
}

int dns_parse_query(const uint8_t *b, size_t len, struct dns_query *q) {
  memset(q, 0, sizeof *q);
  if (len < DNS_HDR) return -1;
  q->id = rd16(b);
  q->flags = rd16(b + 2);
  if (q->flags & 0x8000) return -1;
  q->opcode = (q->flags >> 11) & 0xf;
  if (q->opcode != 0) return DNS_R_NOTIMP;
  if (rd16(b + 4) != 1) return DNS_R_FORMERR;
  size_t off = DNS_HDR, n = 0;
  for (;;) {
    if (off >= len) return DNS_R_FORMERR;
    uint8_t l = b[off++];
    if (l == 0) break;
    if (l > 63 || off + l > len) return DNS_R_FORMERR;  // no compression in a question
    if (n + l + 2 > sizeof q->name) return DNS_R_FORMERR;
    if (n) q->name[n++] = '.';
    for (uint8_t i = 0; i < l; i++) {
      char c = (char)b[off + i];
      q->name[n++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    off += l;
  }
  q->name[n] = 0;
  if (off + 4 > len) return DNS_R_FORMERR;
  q->qtype = rd16(b + off);
  q->qclass = rd16(b + off + 2);
  q->qend = off + 4;
  // Look for an OPT record among the other sections; anything unparsable there is ignored.
  unsigned rest = (unsigned)rd16(b + 6) + rd16(b + 8) + rd16(b + 10);
  off = q->qend;
  for (unsigned i = 0; i < rest; i++) {
    size_t p = skip_name(b, len, off);
    if (!p || p + 10 > len) break;
    uint16_t type = rd16(b + p), rdlen = rd16(b + p + 8);
    if (type == DNS_T_OPT && b[off] == 0) {
      uint16_t size = rd16(b + p + 2);
      q->edns = 1;
      q->edns_size = size < 512 ? 512 : size;
    }
    off = p + 10 + rdlen;
    if (off > len) break;
  }
  return 0;
}

int dns_reply_begin(struct dns_reply *r, const uint8_t *query, const struct dns_query *q, int rcode, int aa) {
  r->len = 0;
  r->ancount = 0;
  r->truncated = 0;
  if (r->cap < q->qend + 11) return -1;
  memcpy(r->buf, query, q->qend);
  uint16_t flags = 0x8000 | (q->flags & 0x7900) | 0x0080 | (rcode & 0xf);  // QR, opcode+RD kept, RA
  if (aa) flags |= 0x0400;
  wr16(r->buf + 2, flags);
  wr16(r->buf + 4, 1);
  wr16(r->buf + 6, 0);
  wr16(r->buf + 8, 0);
  wr16(r->buf + 10, 0);
  r->len = q->qend;
  return 0;
}

/* Room kept at the end for the OPT record (11 bytes). */
static int room(struct dns_reply *r, size_t need) {
  if (r->truncated) return 0;
  if (r->len + need + 11 > r->cap) {
    r->truncated = 1;
    r->buf[2] |= 0x02;  // TC
    return 0;
  }
  return 1;
}

static void rr_head(struct dns_reply *r, uint16_t type, uint32_t ttl, uint16_t rdlen) {
  uint8_t *p = r->buf + r->len;
  wr16(p, 0xc000 | DNS_HDR);  // pointer to the question name
  wr16(p + 2, type);
  wr16(p + 4, DNS_C_IN);
  wr32(p + 6, ttl);
  wr16(p + 10, rdlen);
  r->len += 12;
}

void dns_reply_addr(struct dns_reply *r, uint32_t ttl, const uint8_t *addr, int alen) {
  if (!room(r, 12 + (size_t)alen)) return;
  rr_head(r, alen == 4 ? DNS_T_A : DNS_T_AAAA, ttl, (uint16_t)alen);
  memcpy(r->buf + r->len, addr, (size_t)alen);
  r->len += (size_t)alen;
  r->ancount++;
}

/* Encodes dotted `name` as labels into `out`; returns its length or 0 when invalid. */
static size_t encode_name(const char *name, uint8_t *out, size_t cap) {
  size_t n = 0;
  const char *s = name;
  while (*s) {
    const char *dot = strchr(s, '.');
    size_t l = dot ? (size_t)(dot - s) : strlen(s);
    if (l == 0 || l > 63 || n + l + 2 > cap) return 0;
    out[n++] = (uint8_t)l;
    memcpy(out + n, s, l);
    n += l;
    s += l;
    if (*s == '.') s++;
  }
  if (n + 1 > cap) return 0;
  out[n++] = 0;
  return n;
}

void dns_reply_ptr(struct dns_reply *r, uint32_t ttl, const char *target) {
  uint8_t enc[DNS_MAXNAME + 2];
  size_t n = encode_name(target, enc, sizeof enc);
  if (!n || !room(r, 12 + n)) return;
  rr_head(r, DNS_T_PTR, ttl, (uint16_t)n);
  memcpy(r->buf + r->len, enc, n);
  r->len += n;
  r->ancount++;
}

size_t dns_reply_end(struct dns_reply *r, const struct dns_query *q) {
  wr16(r->buf + 6, r->ancount);
  if (q->edns) {
    uint8_t *p = r->buf + r->len;
    p[0] = 0;
    wr16(p + 1, DNS_T_OPT);
    wr16(p + 3, 1232);  // our UDP payload size (the DNS flag day 2020 value)
    wr32(p + 5, 0);
    wr16(p + 9, 0);
    r->len += 11;
    wr16(r->buf + 10, 1);
  }
  return r->len;
}

size_t dns_error_reply(const uint8_t *query, size_t qlen, uint8_t *out, size_t cap, int rcode) {
  struct dns_query q;
  int rc = dns_parse_query(query, qlen, &q);
  if (rc < 0 || cap < DNS_HDR) return 0;
  if (rc == 0) {
    struct dns_reply r = { .buf = out, .cap = cap };
    q.edns = 0;
    if (dns_reply_begin(&r, query, &q, rcode, 0) < 0) return 0;
    return dns_reply_end(&r, &q);
  }
  // Header only, echoing the id and opcode.
  memcpy(out, query, DNS_HDR);
  wr16(out + 2, (uint16_t)(0x8000 | (rd16(query + 2) & 0x7900) | 0x0080 | rc));
  memset(out + 4, 0, 8);
  return DNS_HDR;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int dns_reverse_addr(const char *name, uint8_t out[16]) {
  size_t n = strlen(name);
  static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";
  if (n > sizeof v4 - 1 && strcmp(name + n - (sizeof v4 - 1), v4) == 0) {
    // d.c.b.a.in-addr.arpa → a.b.c.d
    int octets[4], k = 0;
    const char *s = name, *end = name + n - (sizeof v4 - 1);
    while (s < end && k < 4) {
      char *e;
      long v = strtol(s, &e, 10);
      if (e == s || v < 0 || v > 255 || (e != end && *e != '.')) return 0;
      octets[k++] = (int)v;
      s = e == end ? e : e + 1;
    }
    if (k != 4 || s != end) return 0;
    for (int i = 0; i < 4; i++) out[i] = (uint8_t)octets[3 - i];
    return 4;
  }
  if (n == 72 && strcmp(name + 63, v6) == 0) {
    // 32 nibbles "x." each, least significant first.
    for (int i = 0; i < 32; i++) {
      int h = hexval(name[2 * i]);
      if (h < 0 || (i < 31 && name[2 * i + 1] != '.')) return 0;
      int byte = 15 - i / 2;
      if (i % 2 == 0) out[byte] = (uint8_t)h;
      else out[byte] |= (uint8_t)(h << 4);
    }
    return 16;
  }
  return 0;
}
