// Unit tests of the pure parts (records, packet, answer) with literal inputs.
// Built and run by test/dns/native-unit.test.ts; not part of the binary.
#include "answer.h"
#include "live.h"
#include "packet.h"
#include "records.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static struct records *parse(const char *text, char *err, size_t errlen) {
  return records_parse(strdup(text), err, errlen);
}

/* Encodes a query for `name`/`type` into buf; returns its length. */
static size_t make_query(uint8_t *buf, const char *name, uint16_t type) {
  memset(buf, 0, DNS_HDR);
  buf[0] = 0x12; buf[1] = 0x34; buf[2] = 0x01; buf[5] = 1;  // id, RD, QDCOUNT 1
  size_t n = DNS_HDR;
  const char *s = name;
  while (*s) {
    const char *dot = strchr(s, '.');
    size_t l = dot ? (size_t)(dot - s) : strlen(s);
    buf[n++] = (uint8_t)l;
    memcpy(buf + n, s, l);
    n += l;
    s += l + (dot ? 1 : 0);
  }
  buf[n++] = 0;
  buf[n++] = (uint8_t)(type >> 8); buf[n++] = (uint8_t)type;
  buf[n++] = 0; buf[n++] = 1;
  return n;
}

/* Runs answer_local for (net, name, type): returns rcode, or -1 when forwarded; *an = answers. */
static int ask(const struct records *r, int net, const char *name, uint16_t type, int *an) {
  uint8_t q[512], out[512];
  size_t ql = make_query(q, name, type);
  struct dns_query dq;
  if (dns_parse_query(q, ql, &dq) != 0) return -2;
  size_t n = answer_local(r, net, q, &dq, 0, out, sizeof out);
  if (n == 0) return -1;
  *an = out[6] << 8 | out[7];
  return out[3] & 0xf;
}

static void test_records(void) {
  char err[256];
  struct records *r = parse("serial 9\nttl 30\n# c\n\nsearch Corp.Example.\nupstream 192.0.2.1\nupstream ::1 5353\n"
                            "net b 10.0.1.1\nnet a 10.0.0.1/24 internal\na a Web 10.0.0.2\na a web 10.0.0.3\na b web 10.0.1.2\n"
                            "ptr a 10.0.0.2 App-Web-1.\nfuture directive ignored\n", err, sizeof err);
  CHECK(r != NULL);
  if (!r) { printf("  %s\n", err); return; }
  CHECK(r->serial == 9 && r->ttl == 30);
  CHECK(r->nsearch == 1 && strcmp(r->search[0], "corp.example") == 0);
  CHECK(r->nups == 2 && r->ups[0].port == 53 && r->ups[1].port == 5353 && r->ups[1].addr.len == 16);
  CHECK(r->nnets == 2 && r->nets[1].prefix == 24 && r->nets[1].internal == 1 && r->nets[0].prefix == -1);
  size_t first;
  CHECK(records_find(r, 1, "web", &first) == 2);
  CHECK(records_find(r, 0, "web", &first) == 1);
  CHECK(records_find(r, 0, "nope", &first) == 0);
  struct ipaddr a;
  ipaddr_parse("10.0.0.2", &a);
  CHECK(records_ptr(r, 1, &a) && strcmp(records_ptr(r, 1, &a), "app-web-1") == 0);
  CHECK(records_ptr(r, 0, &a) == NULL);
  ipaddr_parse("10.0.1.1", &a);
  CHECK(records_net_by_gateway(r, &a) == 0);
  records_free(r);

  static const struct { const char *text, *error; } bad[] = {
    { "net a 10.0.0.1\nnet a 10.0.0.2\n", "line 2: network 'a' given twice" },
    { "net a 10.0.0.1\nnet b 10.0.0.1\n", "line 2: networks 'a' and 'b' share gateway 10.0.0.1" },
    { "\n\na z web 10.0.0.2\n", "line 3: unknown network 'z'" },
    { "net a 10.0.0.1\na a web 10.0.0.999\n", "line 2: invalid address '10.0.0.999' for 'web'" },
    { "net a 10.0.0.1/33\n", "line 1: network 'a': invalid prefix '/33'" },
    { "upstream 1.2.3.4 0\n", "line 1: upstream: invalid port '0'" },
    { "net a\n", "line 1: 'net' takes a different number of fields" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    struct records *b = parse(bad[i].text, err, sizeof err);
    CHECK(b == NULL);
    if (strcmp(err, bad[i].error) != 0) { printf("FAIL bad[%zu]: got '%s', want '%s'\n", i, err, bad[i].error); failures++; }
    records_free(b);
  }
}

static void test_reverse(void) {
  uint8_t b[16];
  CHECK(dns_reverse_addr("4.3.2.1.in-addr.arpa", b) == 4 && b[0] == 1 && b[3] == 4);
  CHECK(dns_reverse_addr("3.2.1.in-addr.arpa", b) == 0);
  CHECK(dns_reverse_addr("5.4.3.2.1.in-addr.arpa", b) == 0);
  CHECK(dns_reverse_addr("256.3.2.1.in-addr.arpa", b) == 0);
  CHECK(dns_reverse_addr("x.3.2.1.in-addr.arpa", b) == 0);
  CHECK(dns_reverse_addr("in-addr.arpa", b) == 0);
  const char *v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.ip6.arpa";
  CHECK(dns_reverse_addr(v6, b) == 16 && b[0] == 0x0d && b[1] == 0xb8 && b[15] == 1);
  CHECK(dns_reverse_addr("1.0.ip6.arpa", b) == 0);
  CHECK(dns_reverse_addr("g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.ip6.arpa", b) == 0);
}

static void test_parse(void) {
  uint8_t q[512];
  struct dns_query dq;
  size_t n = make_query(q, "WeB.Shop", DNS_T_A);
  CHECK(dns_parse_query(q, n, &dq) == 0 && strcmp(dq.name, "web.shop") == 0 && dq.qtype == DNS_T_A && !dq.edns);
  CHECK(dns_parse_query(q, 11, &dq) == -1);           // shorter than a header
  CHECK(dns_parse_query(q, n - 1, &dq) == DNS_R_FORMERR);
  q[2] |= 0x80;
  CHECK(dns_parse_query(q, n, &dq) == -1);            // a response
  q[2] &= 0x7f;
  q[DNS_HDR] = 0xc0;                                   // compression pointer in the question
  CHECK(dns_parse_query(q, n, &dq) == DNS_R_FORMERR);
  n = make_query(q, "x", DNS_T_A);
  q[11] = 1;                                           // ARCOUNT 1: an OPT record
  uint8_t opt[] = { 0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0 };
  memcpy(q + n, opt, sizeof opt);
  CHECK(dns_parse_query(q, n + sizeof opt, &dq) == 0 && dq.edns && dq.edns_size == 4096);
}

static void test_answer(void) {
  char err[256];
  struct records *r = parse("search corp.example\nnet b 10.0.1.1/24\nnet i 10.0.2.1 internal\n"
                            "a b web 10.0.1.2\na b web 10.0.1.3\na b db fd00::5\nptr b 10.0.1.2 web-1\na i db 10.0.2.5\n", err, sizeof err);
  CHECK(r != NULL);
  if (!r) return;
  int an = -1;
  CHECK(ask(r, 0, "web", DNS_T_A, &an) == DNS_R_OK && an == 2);
  CHECK(ask(r, 0, "WEB.corp.example", DNS_T_A, &an) == DNS_R_OK && an == 2);
  CHECK(ask(r, 0, "web", DNS_T_AAAA, &an) == DNS_R_OK && an == 0);   // NODATA
  CHECK(ask(r, 0, "db", DNS_T_AAAA, &an) == DNS_R_OK && an == 1);
  CHECK(ask(r, 0, "web", 15 /* MX */, &an) == DNS_R_OK && an == 0);
  CHECK(ask(r, 0, "web", DNS_T_ANY, &an) == DNS_R_OK && an == 2);
  CHECK(ask(r, 0, "nosuch", DNS_T_A, &an) == DNS_R_NXDOMAIN);
  CHECK(ask(r, 0, "nosuch.corp.example", DNS_T_A, &an) == -1);      // may exist upstream
  CHECK(ask(r, 0, "example.org", DNS_T_A, &an) == -1);
  CHECK(ask(r, 0, "", DNS_T_A, &an) == -1);                           // the root
  CHECK(ask(r, 0, "2.1.0.10.in-addr.arpa", DNS_T_PTR, &an) == DNS_R_OK && an == 1);
  CHECK(ask(r, 0, "9.1.0.10.in-addr.arpa", DNS_T_PTR, &an) == DNS_R_NXDOMAIN);
  CHECK(ask(r, 0, "9.9.0.10.in-addr.arpa", DNS_T_PTR, &an) == -1);   // outside the /24
  CHECK(ask(r, 1, "db", DNS_T_A, &an) == DNS_R_OK && an == 1);
  CHECK(ask(r, 1, "web", DNS_T_A, &an) == DNS_R_NXDOMAIN);           // other network's name
  CHECK(ask(r, 1, "example.org", DNS_T_A, &an) == DNS_R_REFUSED);    // internal: no forwarding
  CHECK(ask(r, -1, "web", DNS_T_A, &an) == DNS_R_REFUSED);           // no network at that address
  records_free(r);
}

/* answer_view for the view of a query from `src` arriving on `net`. */
static int ask_from(const struct records *r, int net, const char *src, const char *name, uint16_t type, int *an, char *first) {
  uint8_t q[512], out[512];
  size_t ql = make_query(q, name, type);
  struct dns_query dq;
  if (dns_parse_query(q, ql, &dq) != 0) return -2;
  struct ipaddr s;
  ipaddr_parse(src, &s);
  int view[8];
  size_t nv = records_view(r, net, &s, view, 8);
  size_t n = answer_view(r, view, nv, q, &dq, 0, out, sizeof out);
  if (n == 0) return -1;
  *an = out[6] << 8 | out[7];
  if (first) {  // the first answer's A data, dotted (answers follow the question: name ptr, type, class, ttl, rdlen)
    first[0] = 0;
    if (*an && n >= dq.qend + 16 && out[dq.qend + 3] == DNS_T_A) {
      const uint8_t *d = out + dq.qend + 12;
      snprintf(first, 16, "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
    }
  }
  return out[3] & 0xf;
}

/* A container on several networks sees the names of all of them; others see only the arrival network's. */
static void test_view(void) {
  char err[256], ip[16];
  struct records *r = parse("net back 10.0.2.1/24\nnet front 10.0.1.1/24\nnet priv 10.0.3.1 internal\nnet six fd00:6::1/64\n"
                            "a front web 10.0.1.2\na front api 10.0.1.3\na back api 10.0.2.3\na back db 10.0.2.4\na priv vault 10.0.3.5\n"
                            "a six app fd00:6::9\n"
                            "ptr front 10.0.1.3 proj-api-1\nptr back 10.0.2.3 proj-api-1\nptr six fd00:6::3 proj-api-1\n"
                            "ptr front 10.0.1.2 proj-web-1\nptr back 10.0.2.4 proj-db-1\n"
                            "ptr priv 10.0.3.6 proj-guard-1\nptr back 10.0.2.6 proj-guard-1\nptr priv 10.0.3.5 proj-vault-1\n", err, sizeof err);
  CHECK(r != NULL);
  if (!r) { printf("  %s\n", err); return; }
  int view[8], an = -1;
  struct ipaddr s;
  ipaddr_parse("10.0.1.3", &s);
  CHECK(records_view(r, 1, &s, view, 8) == 3 && view[0] == 1 && view[1] == 0 && view[2] == 3);  // front, then back, six
  CHECK(records_view(r, 1, &s, view, 2) == 2 && view[1] == 0);                                   // capped
  CHECK(records_view(r, 0, &s, view, 8) == 1);                    // its front address arriving on back: not its own there
  CHECK(records_view(r, -1, &s, view, 8) == 0);
  ipaddr_parse("10.0.2.3", &s);
  CHECK(records_view(r, 0, &s, view, 8) == 3 && view[0] == 0 && view[1] == 1 && view[2] == 3);
  ipaddr_parse("fd00:6::3", &s);
  CHECK(records_view(r, 3, &s, view, 8) == 3 && view[0] == 3 && view[1] == 0 && view[2] == 1);
  ipaddr_parse("10.0.1.1", &s);
  CHECK(records_view(r, 1, &s, view, 8) == 1);                    // the gateway itself: no container

  // api-1 (front+back) asks front's gateway for a back-only name, and for a name on both.
  CHECK(ask_from(r, 1, "10.0.1.3", "db", DNS_T_A, &an, ip) == DNS_R_OK && an == 1 && strcmp(ip, "10.0.2.4") == 0);
  CHECK(ask_from(r, 1, "10.0.1.3", "api", DNS_T_A, &an, ip) == DNS_R_OK && an == 1 && strcmp(ip, "10.0.1.3") == 0);
  CHECK(ask_from(r, 0, "10.0.2.3", "api", DNS_T_A, &an, ip) == DNS_R_OK && an == 1 && strcmp(ip, "10.0.2.3") == 0);
  CHECK(ask_from(r, 1, "10.0.1.3", "app", DNS_T_AAAA, &an, NULL) == DNS_R_OK && an == 1);
  CHECK(ask_from(r, 1, "10.0.1.3", "vault", DNS_T_A, &an, NULL) == DNS_R_NXDOMAIN);  // not on priv
  CHECK(ask_from(r, 1, "10.0.1.3", "nosuch", DNS_T_A, &an, NULL) == DNS_R_NXDOMAIN);
  CHECK(ask_from(r, 1, "10.0.1.3", "example.org", DNS_T_A, &an, NULL) == -1);
  // web-1 (front only) does not see back; nor does an unknown source.
  CHECK(ask_from(r, 1, "10.0.1.2", "db", DNS_T_A, &an, NULL) == DNS_R_NXDOMAIN);
  CHECK(ask_from(r, 1, "10.0.1.99", "db", DNS_T_A, &an, NULL) == DNS_R_NXDOMAIN);
  CHECK(ask_from(r, 1, "10.0.1.2", "web", DNS_T_A, &an, NULL) == DNS_R_OK && an == 1);
  // PTR over the view; NXDOMAIN inside any of the view's subnets; forwarded outside them.
  CHECK(ask_from(r, 1, "10.0.1.3", "4.2.0.10.in-addr.arpa", DNS_T_PTR, &an, NULL) == DNS_R_OK && an == 1);
  CHECK(ask_from(r, 1, "10.0.1.2", "4.2.0.10.in-addr.arpa", DNS_T_PTR, &an, NULL) == -1);
  CHECK(ask_from(r, 1, "10.0.1.3", "99.2.0.10.in-addr.arpa", DNS_T_PTR, &an, NULL) == DNS_R_NXDOMAIN);
  CHECK(ask_from(r, 1, "10.0.1.3", "99.1.0.10.in-addr.arpa", DNS_T_PTR, &an, NULL) == DNS_R_NXDOMAIN);
  // Forwarding follows the asker's networks: guard-1 (priv internal + back) is forwarded whichever
  // gateway it asks; vault-1 (priv only) and an unknown source on priv are refused.
  CHECK(ask_from(r, 2, "10.0.3.6", "example.org", DNS_T_A, &an, NULL) == -1);
  CHECK(ask_from(r, 2, "10.0.3.5", "example.org", DNS_T_A, &an, NULL) == DNS_R_REFUSED);
  CHECK(ask_from(r, 2, "10.0.3.99", "example.org", DNS_T_A, &an, NULL) == DNS_R_REFUSED);
  CHECK(ask_from(r, 2, "10.0.3.6", "db", DNS_T_A, &an, NULL) == DNS_R_OK && an == 1);
  CHECK(ask_from(r, 0, "10.0.2.6", "example.org", DNS_T_A, &an, NULL) == -1);
  CHECK(ask_from(r, 0, "10.0.2.6", "vault", DNS_T_A, &an, NULL) == DNS_R_OK && an == 1);
  records_free(r);

  // Same result whatever the order of the ptr lines in the file.
  r = parse("net b 10.0.2.1\nnet a 10.0.1.1\nptr b 10.0.2.3 x\nptr a 10.0.1.5 y\nptr a 10.0.1.3 x\nptr b 10.0.2.5 y\n", err, sizeof err);
  CHECK(r != NULL);
  if (!r) return;
  ipaddr_parse("10.0.1.3", &s);
  CHECK(records_view(r, 1, &s, view, 8) == 2 && view[1] == 0);
  ipaddr_parse("10.0.2.5", &s);
  CHECK(records_view(r, 0, &s, view, 8) == 2 && view[1] == 1);
  CHECK(records_ptr(r, 1, &s) == NULL);
  CHECK(records_ptr(r, 0, &s) && strcmp(records_ptr(r, 0, &s), "y") == 0);
  records_free(r);
}

static struct rec_state *state_of(struct records *r, const char *name) {
  for (size_t i = 0; i < r->nstates; i++)
    if (strcmp(r->states[i].name, name) == 0) return &r->states[i];
  return NULL;
}

/* `state` lines: parsed (the path is the rest of the line), tied to ptrs and addresses, and
   a container that is not running is not answered while its running siblings are. */
static void test_state(void) {
  char err[256];
  int an = -1;
  const char *base = "net b 10.0.1.1/24\n"
                     "a b web 10.0.1.2\na b web 10.0.1.3\na b p-web-1 10.0.1.2\na b p-web-2 10.0.1.3\na b other 10.0.1.9\n"
                     "ptr b 10.0.1.2 p-web-1\nptr b 10.0.1.3 p-web-2\n";
  // Without state lines (files written before the directive): nothing is linked, all answered.
  struct records *r = parse(base, err, sizeof err);
  CHECK(r != NULL);
  if (!r) return;
  CHECK(r->nstates == 0 && r->addrs[0].state == -1 && r->ptrs[0].state == -1);
  CHECK(ask(r, 0, "web", DNS_T_A, &an) == DNS_R_OK && an == 2);
  records_free(r);

  char text[1024];
  snprintf(text, sizeof text, "%sstate P-Web-2 /var/lib/ts stack/containers/b/state.json \r\nstate p-web-1\t/c/a/state.json\nstate nobody /c/z/s\n", base);
  r = parse(text, err, sizeof err);
  CHECK(r != NULL);
  if (!r) { printf("  %s\n", err); return; }
  CHECK(r->nstates == 3 && strcmp(r->states[0].name, "nobody") == 0);
  struct rec_state *w1 = state_of(r, "p-web-1"), *w2 = state_of(r, "p-web-2");
  CHECK(w1 && w2);
  if (!w1 || !w2) { records_free(r); return; }
  CHECK(strcmp(w2->path, "/var/lib/ts stack/containers/b/state.json") == 0 && strcmp(w2->file, "state.json") == 0);
  CHECK(strcmp(w1->path, "/c/a/state.json") == 0 && w1->up == 1 && w1->wd == -1);
  CHECK(ask(r, 0, "web", DNS_T_A, &an) == DNS_R_OK && an == 2);       // up until read otherwise
  w1->up = 0;                                                          // p-web-1 exited
  CHECK(ask(r, 0, "web", DNS_T_A, &an) == DNS_R_OK && an == 1);
  CHECK(ask(r, 0, "p-web-1", DNS_T_A, &an) == DNS_R_NXDOMAIN);
  CHECK(ask(r, 0, "p-web-2", DNS_T_A, &an) == DNS_R_OK && an == 1);
  CHECK(ask(r, 0, "2.1.0.10.in-addr.arpa", DNS_T_PTR, &an) == DNS_R_NXDOMAIN);
  CHECK(ask(r, 0, "3.1.0.10.in-addr.arpa", DNS_T_PTR, &an) == DNS_R_OK && an == 1);
  CHECK(ask(r, 0, "other", DNS_T_A, &an) == DNS_R_OK && an == 1);     // an address with no ptr: always answered
  for (unsigned rot = 0; rot < 4; rot++) {                             // rotation never picks the quiet one
    uint8_t q[512], out[512];
    size_t ql = make_query(q, "web", DNS_T_A);
    struct dns_query dq;
    dns_parse_query(q, ql, &dq);
    size_t n = answer_local(r, 0, q, &dq, rot, out, sizeof out);
    CHECK(n >= dq.qend + 16 && out[7] == 1 && out[dq.qend + 15] == 3);
  }
  w2->up = 0;                                                          // both down: the service name is gone
  CHECK(ask(r, 0, "web", DNS_T_A, &an) == DNS_R_NXDOMAIN);
  CHECK(ask(r, 0, "web.example", DNS_T_A, &an) == -1);
  w1->up = w2->up = 1;                                                 // restarted
  CHECK(ask(r, 0, "web", DNS_T_A, &an) == DNS_R_OK && an == 2);
  records_free(r);

  static const struct { const char *text, *error; } bad[] = {
    { "state web\n", "line 1: 'state' takes a different number of fields" },
    { "state\n", "line 1: 'state' takes a different number of fields" },
    { "\nstate web state.json\n", "line 2: state: 'state.json' is not the absolute path of a file" },
    { "state web /c/a/\n", "line 1: state: '/c/a/' is not the absolute path of a file" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    struct records *b = parse(bad[i].text, err, sizeof err);
    CHECK(b == NULL);
    if (strcmp(err, bad[i].error) != 0) { printf("FAIL state bad[%zu]: got '%s', want '%s'\n", i, err, bad[i].error); failures++; }
    records_free(b);
  }
  r = parse("stateful x y\n", err, sizeof err);                        // another (future) directive: ignored
  CHECK(r && r->nstates == 0);
  records_free(r);
}

static void test_live_status(void) {
  static const struct { const char *text; int up; long pid; } cases[] = {
    { "{\"status\":\"running\",\"monitorPid\":5}", 1, 5 },
    { "{\"exitCode\":1,\"monitorPid\":7,\"status\":\"exited\"}\n", 0, 7 },
    { "{\"status\":\"restarting\"}", 0, 0 },
    { "{\"status\":\"created\"}", 0, 0 },
    { "{\"health\":{\"status\":\"running\"},\"status\":\"exited\"}", 0, 0 },
    { "{\"health\":{\"status\":\"unhealthy\"},\"status\":\"running\"}", 1, 0 },
    { "{\"status\":\"running\",\"monitorPid\":-3}", 1, 0 },
    { "{\"status\":\"running\",\"monitorPid\":\"9\"}", 1, 0 },
    { "{\"status\":\"running\",\"monitorPid\":99999999999}", 1, 0 },
    { "{\"status\":\"exi", 1, 0 },   // unreadable: as before the directive
    { "", 1, 0 },
    { "{\"pid\":1}", 1, 0 },
    { "{\"status\":3}", 1, 0 },
    { "[\"exited\"]", 1, 0 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    long pid = -1;
    int up = live_status_up(cases[i].text, strlen(cases[i].text), &pid);
    if (up != cases[i].up || pid != cases[i].pid) { printf("FAIL live_status_up case %zu: up %d pid %ld\n", i, up, pid); failures++; }
  }
  CHECK(live_status_up("{}", 2, NULL) == 1);
}

static void put_file(const char *dir, const char *name, const char *text) {
  char p[512], tmp[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  FILE *f = fopen(tmp, "w");
  if (!f) { failures++; return; }
  fputs(text, f);
  fclose(f);
  if (rename(tmp, p) < 0) failures++;
}

/* live_attach reads the state files; live_on_files follows their replacement (the kernel
   queues the inotify event before rename returns, so one read sees it). */
static void test_live_files(void) {
  char dir[400], err[256], text[1200], sub[600];
  const char *tmp = getenv("TMPDIR");  // the test runner's own temp dir, removed after it
  snprintf(dir, sizeof dir, "%s/tsstack-live-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) { failures++; return; }
  snprintf(sub, sizeof sub, "%s/c2", dir);
  if (mkdir(sub, 0700) < 0) failures++;
  put_file(dir, "state.json", "{\"status\":\"exited\"}");
  put_file(sub, "state.json", "{\"status\":\"running\"}");
  snprintf(text, sizeof text, "net b 10.0.1.1\na b web 10.0.1.2\na b web 10.0.1.3\nptr b 10.0.1.2 w1\nptr b 10.0.1.3 w2\n"
                              "state w1 %s/state.json\nstate w2 %s/state.json\nstate w3 %s/none/state.json\n", dir, sub, dir);
  int epfd = epoll_create1(0);
  CHECK(live_init(epfd, 98, 99) == 0);
  struct records *r = parse(text, err, sizeof err);
  CHECK(r != NULL);
  if (r) {
    live_attach(r, NULL);
    struct rec_state *w1 = state_of(r, "w1"), *w2 = state_of(r, "w2");
    CHECK(w1->up == 0 && w2->up == 1 && w1->wd >= 0 && w2->wd >= 0 && w1->wd != w2->wd);
    CHECK(state_of(r, "w3")->up == 1 && state_of(r, "w3")->wd == -1);  // no such directory: not followed, answered
    put_file(dir, "log.json", "x");                                      // other files: no change
    CHECK(live_on_files(r) == 0);
    put_file(dir, "state.json", "{\"status\":\"running\"}");
    put_file(sub, "state.json", "{\"status\":\"restarting\"}");
    CHECK(live_on_files(r) == 2 && w1->up == 1 && w2->up == 0);
    CHECK(live_on_files(r) == 0);
    char gone[700];
    snprintf(gone, sizeof gone, "%s/state.json", sub);
    unlink(gone);                                                        // gone: answered as before
    CHECK(live_on_files(r) == 1 && w2->up == 1);
    rmdir(sub);                                                          // its directory too
    CHECK(live_on_files(r) == 0 && w2->wd == -1);
    put_file(dir, "state.json", "{\"status\":\"exited\"}");
    CHECK(live_on_files(r) == 1 && w1->up == 0);
    // A reload takes over what is known of an unchanged state (same name, file, watch) without
    // reading: shown here by a cached value the file does not say.
    w1->up = 1;
    struct records *r2 = parse(text, err, sizeof err);
    CHECK(r2 != NULL);
    if (r2) {
      live_attach(r2, r);
      CHECK(state_of(r2, "w1")->up == 1 && state_of(r2, "w2")->up == 1);  // w2's file is gone: read, up
      live_release(r);
      records_free(r);
      r = r2;
      put_file(dir, "state.json", "{\"status\":\"exited\"}");      // and follows events from then on
      CHECK(live_on_files(r) == 1 && state_of(r, "w1")->up == 0);
    }
    live_release(r);
    records_free(r);
  }

  // A file saying running names its monitor: while that process lives the container is
  // answered; when it ends without writing (killed), the container goes quiet.
  pid_t child = fork();
  if (child == 0) { pause(); _exit(0); }
  char st[128];
  snprintf(st, sizeof st, "{\"monitorPid\":%d,\"status\":\"running\"}", (int)child);
  put_file(dir, "state.json", st);
  snprintf(text, sizeof text, "net b 10.0.1.1\na b web 10.0.1.2\nptr b 10.0.1.2 w1\nstate w1 %s/state.json\n", dir);
  r = parse(text, err, sizeof err);
  CHECK(r != NULL);
  if (r) {
    live_attach(r, NULL);
    struct rec_state *w1 = state_of(r, "w1");
    CHECK(w1->up == 1 && w1->pidfd >= 0 && w1->pid == child);
    CHECK(live_on_files(r) == 0);                                       // drain the writes made before
    CHECK(live_on_pid(r, w1->pidfd) == 0 && w1->up == 1);              // alive: a stale event changes nothing
    int fd = w1->pidfd;
    struct records *r2 = parse(text, err, sizeof err);                  // a reload takes the pidfd over
    CHECK(r2 != NULL);
    if (!r2) return;
    live_attach(r2, r);
    CHECK(state_of(r2, "w1")->pidfd == fd && w1->pidfd == -1);
    live_release(r);
    records_free(r);
    r = r2;
    w1 = state_of(r, "w1");
    struct epoll_event ev;
    CHECK(epoll_wait(epfd, &ev, 1, 0) == 0);
    kill(child, SIGKILL);
    CHECK(epoll_wait(epfd, &ev, 1, 5000) == 1 && ev.data.u64 == ((uint64_t)99 << 32 | (uint32_t)fd));
    CHECK(live_on_pid(r, fd) == 1 && w1->up == 0 && w1->pidfd == -1);
    waitpid(child, NULL, 0);
    live_attach(r, NULL);                                               // read again: its monitor is gone for good
    CHECK(w1->up == 0 && w1->pidfd == -1);
    put_file(dir, "state.json", "{\"monitorPid\":1,\"status\":\"running\"}");  // a live process (pid 1)
    CHECK(live_on_files(r) == 1 && w1->up == 1 && w1->pidfd >= 0);
    put_file(dir, "state.json", "{\"monitorPid\":1,\"status\":\"exited\"}");
    CHECK(live_on_files(r) == 1 && w1->up == 0 && w1->pidfd == -1);  // not running: the pidfd is let go
    live_release(r);
    records_free(r);
  }
  live_close();
  close(epfd);
  snprintf(text, sizeof text, "%s/state.json", dir);
  unlink(text);
  snprintf(text, sizeof text, "%s/log.json", dir);
  unlink(text);
  rmdir(dir);
}

int main(void) {
  test_records();
  test_state();
  test_live_status();
  test_live_files();
  test_view();
  test_reverse();
  test_parse();
  test_answer();
  printf("%s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
