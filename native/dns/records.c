// Records file parser and lookups. Pure apart from records_load's read.
#include "records.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ipaddr_parse(const char *s, struct ipaddr *out) {
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, s, out->b) == 1) { out->len = 4; return 0; }
  if (inet_pton(AF_INET6, s, out->b) == 1) { out->len = 16; return 0; }
  return -1;
}

int ipaddr_eq(const struct ipaddr *a, const struct ipaddr *b) {
  return a->len == b->len && memcmp(a->b, b->b, (size_t)a->len) == 0;
}

int ipaddr_in(const struct ipaddr *a, const struct ipaddr *net, int prefix) {
  if (a->len != net->len || prefix < 0 || prefix > a->len * 8) return 0;
  int full = prefix / 8, bits = prefix % 8;
  if (memcmp(a->b, net->b, (size_t)full) != 0) return 0;
  if (!bits) return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - bits));
  return (a->b[full] & mask) == (net->b[full] & mask);
}

void records_free(struct records *r) {
  if (!r) return;
  free(r->text);
  free(r->nets);
  free(r->addrs);
  free(r->ptrs);
  free(r->by_name);
  free(r->search);
  free(r->ups);
  free(r->states);
  free(r);
}

/* Grows *arr (element size sz) so that index *n is writable. */
static void *push(void *arr, size_t *n, size_t *cap, size_t sz) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(arr, nc * sz);
    if (!p) return NULL;
    arr = p;
    *cap = nc;
  }
  return arr;
}

static int net_index(const struct records *r, const char *name) {
  for (size_t i = 0; i < r->nnets; i++)
    if (strcmp(r->nets[i].name, name) == 0) return (int)i;
  return -1;
}

static int cmp_addr(const void *a, const void *b) {
  const struct rec_addr *x = a, *y = b;
  if (x->net != y->net) return x->net - y->net;
  return strcmp(x->name, y->name);
}

static int cmp_ip(const struct ipaddr *a, const struct ipaddr *b) {
  if (a->len != b->len) return a->len - b->len;
  return memcmp(a->b, b->b, (size_t)a->len);
}

static int cmp_ptr(const void *a, const void *b) {
  const struct rec_ptr *x = a, *y = b;
  int c = cmp_ip(&x->addr, &y->addr);
  if (c) return c;
  if (x->net != y->net) return x->net - y->net;
  return strcmp(x->name, y->name);
}

static int cmp_by_name(const void *a, const void *b, void *ctx) {
  const struct rec_ptr *ptrs = ctx, *x = &ptrs[*(const uint32_t *)a], *y = &ptrs[*(const uint32_t *)b];
  int c = strcmp(x->name, y->name);
  if (c) return c;
  if (x->net != y->net) return x->net - y->net;
  return cmp_ip(&x->addr, &y->addr);
}

/* Sorts the ptrs for lookups by address and groups them by name (one group per container). */
static int index_ptrs(struct records *r) {
  if (!r->nptrs) return 0;
  qsort(r->ptrs, r->nptrs, sizeof *r->ptrs, cmp_ptr);
  if (!(r->by_name = malloc(r->nptrs * sizeof *r->by_name))) return -1;
  for (size_t i = 0; i < r->nptrs; i++) r->by_name[i] = (uint32_t)i;
  qsort_r(r->by_name, r->nptrs, sizeof *r->by_name, cmp_by_name, r->ptrs);
  for (size_t i = 0, j; i < r->nptrs; i = j) {
    const char *name = r->ptrs[r->by_name[i]].name;
    for (j = i + 1; j < r->nptrs && strcmp(r->ptrs[r->by_name[j]].name, name) == 0; j++) {}
    for (size_t k = i; k < j; k++) {
      r->ptrs[r->by_name[k]].group = (uint32_t)i;
      r->ptrs[r->by_name[k]].ngroup = (uint32_t)(j - i);
    }
  }
  return 0;
}

/* Lower-cases in place; names are matched case-insensitively (RFC 4343). */
static void lower(char *s) {
  for (; *s; s++) if (*s >= 'A' && *s <= 'Z') *s = (char)(*s + 32);
}

/* Strips one trailing dot, so "web." and "web" are the same name. */
static void nodot(char *s) {
  size_t n = strlen(s);
  if (n > 1 && s[n - 1] == '.') s[n - 1] = 0;
}

static int cmp_state(const void *a, const void *b) {
  return strcmp(((const struct rec_state *)a)->name, ((const struct rec_state *)b)->name);
}

static int32_t find_state(const struct records *r, const char *name) {
  size_t lo = 0, hi = r->nstates;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(r->states[mid].name, name);
    if (c == 0) return (int32_t)mid;
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return -1;
}

static const struct rec_ptr *find_ptr(const struct records *r, int net, const struct ipaddr *addr);

/* Ties each ptr to its container's state line by name, and each address to the container
   that has it on that network (its ptr line), so a lookup knows whether to answer. */
static void link_states(struct records *r) {
  if (r->nstates) qsort(r->states, r->nstates, sizeof *r->states, cmp_state);
  for (size_t i = 0; i < r->nptrs; i++) r->ptrs[i].state = r->nstates ? find_state(r, r->ptrs[i].name) : -1;
  for (size_t i = 0; i < r->naddrs; i++) {
    const struct rec_ptr *p = r->nstates ? find_ptr(r, r->addrs[i].net, &r->addrs[i].addr) : NULL;
    r->addrs[i].state = p ? p->state : -1;
  }
}

/* `state NAME FILE`, FILE being the rest of the line (a path may hold spaces). 0, or -1 with err set. */
static int parse_state(struct records *r, size_t *cap, char *line, int lineno, char *err, size_t errlen) {
  char *p = line + 5;
  p += strspn(p, " \t");
  char *name = p;
  p += strcspn(p, " \t");
  if (*p) *p++ = 0;
  p += strspn(p, " \t");
  char *path = p, *end = p + strlen(p);
  while (end > path && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = 0;
  if (!*name || !*path) { snprintf(err, errlen, "line %d: 'state' takes a different number of fields", lineno); return -1; }
  const char *slash = strrchr(path, '/');
  if (path[0] != '/' || !slash[1]) { snprintf(err, errlen, "line %d: state: '%s' is not the absolute path of a file", lineno, path); return -1; }
  if (!(r->states = push(r->states, &r->nstates, cap, sizeof *r->states))) { snprintf(err, errlen, "out of memory"); return -1; }
  lower(name);
  nodot(name);
  r->states[r->nstates++] = (struct rec_state){ .name = name, .path = path, .file = slash + 1, .up = 1, .wd = -1, .pid = 0, .pidfd = -1 };
  return 0;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

struct records *records_parse(char *text, char *err, size_t errlen) {
  struct records *r = calloc(1, sizeof *r);
  if (!r) { free(text); snprintf(err, errlen, "out of memory"); return NULL; }
  r->text = text;
  r->ttl = 5;
  size_t cnets = 0, caddrs = 0, cptrs = 0, csearch = 0, cups = 0, cstates = 0;
  int lineno = 0;
  // Pass over lines; net lines must precede the records that name the network.
  for (char *line = text, *next; line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    lineno++;
    if (strncmp(line, "state", 5) == 0 && (line[5] == ' ' || line[5] == '\t')) {
      if (parse_state(r, &cstates, line, lineno, err, errlen) < 0) goto fail;
      continue;
    }
    char *tok[5];
    int nt = 0;
    char *ts = NULL;
    for (char *t = strtok_r(line, " \t\r", &ts); t && nt < 5; t = strtok_r(NULL, " \t\r", &ts)) tok[nt++] = t;
    if (nt == 0 || tok[0][0] == '#') continue;
    const char *d = tok[0];
    if (strcmp(d, "serial") == 0 && nt == 2) {
      r->serial = strtoul(tok[1], NULL, 10);
    } else if (strcmp(d, "ttl") == 0 && nt == 2) {
      r->ttl = (uint32_t)strtoul(tok[1], NULL, 10);
    } else if (strcmp(d, "search") == 0 && nt == 2) {
      if (!(r->search = push(r->search, &r->nsearch, &csearch, sizeof *r->search))) FAIL("out of memory");
      lower(tok[1]);
      nodot(tok[1]);
      r->search[r->nsearch++] = tok[1];
    } else if (strcmp(d, "upstream") == 0 && (nt == 2 || nt == 3)) {
      if (!(r->ups = push(r->ups, &r->nups, &cups, sizeof *r->ups))) FAIL("out of memory");
      struct rec_upstream *u = &r->ups[r->nups];
      if (ipaddr_parse(tok[1], &u->addr) < 0) FAIL("line %d: upstream: invalid address '%s'", lineno, tok[1]);
      long port = nt == 3 ? strtol(tok[2], NULL, 10) : 53;
      if (port <= 0 || port > 65535) FAIL("line %d: upstream: invalid port '%s'", lineno, tok[2]);
      u->port = (uint16_t)port;
      r->nups++;
    } else if (strcmp(d, "net") == 0 && (nt == 3 || (nt == 4 && strcmp(tok[3], "internal") == 0))) {
      if (net_index(r, tok[1]) >= 0) FAIL("line %d: network '%s' given twice", lineno, tok[1]);
      if (!(r->nets = push(r->nets, &r->nnets, &cnets, sizeof *r->nets))) FAIL("out of memory");
      struct rec_net *n = &r->nets[r->nnets];
      n->name = tok[1];
      char *slash = strchr(tok[2], '/');
      if (slash) *slash = 0;
      if (ipaddr_parse(tok[2], &n->gw) < 0) FAIL("line %d: network '%s': invalid gateway '%s'", lineno, tok[1], tok[2]);
      n->prefix = -1;
      n->internal = nt == 4;
      if (slash) {
        char *e;
        long p = strtol(slash + 1, &e, 10);
        if (*e || p < 0 || p > n->gw.len * 8) FAIL("line %d: network '%s': invalid prefix '/%s'", lineno, tok[1], slash + 1);
        n->prefix = (int)p;
      }
      for (size_t i = 0; i < r->nnets; i++)
        if (ipaddr_eq(&r->nets[i].gw, &n->gw)) FAIL("line %d: networks '%s' and '%s' share gateway %s", lineno, r->nets[i].name, tok[1], tok[2]);
      r->nnets++;
    } else if (strcmp(d, "a") == 0 && nt == 4) {
      int net = net_index(r, tok[1]);
      if (net < 0) FAIL("line %d: unknown network '%s'", lineno, tok[1]);
      if (!(r->addrs = push(r->addrs, &r->naddrs, &caddrs, sizeof *r->addrs))) FAIL("out of memory");
      struct rec_addr *a = &r->addrs[r->naddrs];
      a->net = net;
      lower(tok[2]);
      nodot(tok[2]);
      a->name = tok[2];
      a->state = -1;
      if (ipaddr_parse(tok[3], &a->addr) < 0) FAIL("line %d: invalid address '%s' for '%s'", lineno, tok[3], tok[2]);
      r->naddrs++;
    } else if (strcmp(d, "ptr") == 0 && nt == 4) {
      int net = net_index(r, tok[1]);
      if (net < 0) FAIL("line %d: unknown network '%s'", lineno, tok[1]);
      if (!(r->ptrs = push(r->ptrs, &r->nptrs, &cptrs, sizeof *r->ptrs))) FAIL("out of memory");
      struct rec_ptr *p = &r->ptrs[r->nptrs];
      p->net = net;
      if (ipaddr_parse(tok[2], &p->addr) < 0) FAIL("line %d: invalid address '%s'", lineno, tok[2]);
      lower(tok[3]);
      nodot(tok[3]);
      p->name = tok[3];
      p->group = p->ngroup = 0;
      p->state = -1;
      r->nptrs++;
    } else if (strcmp(d, "serial") == 0 || strcmp(d, "ttl") == 0 || strcmp(d, "search") == 0 || strcmp(d, "upstream") == 0 ||
               strcmp(d, "net") == 0 || strcmp(d, "a") == 0 || strcmp(d, "ptr") == 0 || strcmp(d, "state") == 0) {
      FAIL("line %d: '%s' takes a different number of fields", lineno, d);
    }
  }
  if (r->naddrs) qsort(r->addrs, r->naddrs, sizeof *r->addrs, cmp_addr);
  if (index_ptrs(r) < 0) FAIL("out of memory");
  link_states(r);
  return r;
fail:
  records_free(r);
  return NULL;
}

struct records *records_load(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "re");
  if (!f) {
    if (errno == ENOENT) {
      char *empty = calloc(1, 1);
      return empty ? records_parse(empty, err, errlen) : NULL;
    }
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) { fclose(f); snprintf(err, errlen, "out of memory"); return NULL; }
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    cap *= 2;
    char *nb = realloc(buf, cap);
    if (!nb) free(buf);
    buf = nb;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) { free(buf); snprintf(err, errlen, "%s: read error", path); return NULL; }
  buf[n] = 0;
  struct records *r = records_parse(buf, err, errlen);
  if (!r) {
    size_t el = strlen(err);
    if (el + strlen(path) + 3 < errlen) {
      memmove(err + strlen(path) + 2, err, el + 1);
      memcpy(err, path, strlen(path));
      memcpy(err + strlen(path), ": ", 2);
    }
  }
  return r;
}

int records_net_by_gateway(const struct records *r, const struct ipaddr *gw) {
  for (size_t i = 0; i < r->nnets; i++)
    if (ipaddr_eq(&r->nets[i].gw, gw)) return (int)i;
  return -1;
}

size_t records_find(const struct records *r, int net, const char *name, size_t *first) {
  size_t lo = 0, hi = r->naddrs;
  while (lo < hi) {  // lower bound of (net, name)
    size_t mid = (lo + hi) / 2;
    const struct rec_addr *a = &r->addrs[mid];
    int c = a->net != net ? a->net - net : strcmp(a->name, name);
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  size_t n = 0;
  while (lo + n < r->naddrs && r->addrs[lo + n].net == net && strcmp(r->addrs[lo + n].name, name) == 0) n++;
  *first = lo;
  return n;
}

/* The first ptr for (addr, net), or NULL. Binary search: ptrs are sorted by (addr, net, name). */
static const struct rec_ptr *find_ptr(const struct records *r, int net, const struct ipaddr *addr) {
  size_t lo = 0, hi = r->nptrs;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const struct rec_ptr *p = &r->ptrs[mid];
    int c = cmp_ip(&p->addr, addr);
    if (!c) c = p->net - net;
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  if (lo < r->nptrs && r->ptrs[lo].net == net && ipaddr_eq(&r->ptrs[lo].addr, addr)) return &r->ptrs[lo];
  return NULL;
}

const char *records_ptr(const struct records *r, int net, const struct ipaddr *addr) {
  const struct rec_ptr *p = find_ptr(r, net, addr);
  if (!p) return NULL;
  for (size_t i = (size_t)(p - r->ptrs); i < r->nptrs && r->ptrs[i].net == net && ipaddr_eq(&r->ptrs[i].addr, addr); i++)
    if (records_ptr_up(r, i)) return r->ptrs[i].name;
  return NULL;
}

size_t records_count_up(const struct records *r, size_t first, size_t count) {
  size_t n = 0;
  for (size_t i = first; i < first + count; i++) n += (size_t)records_addr_up(r, i);
  return n;
}

size_t records_view(const struct records *r, int net, const struct ipaddr *src, int *nets, size_t max) {
  if (net < 0 || max == 0) return 0;
  nets[0] = net;
  size_t n = 1;
  const struct rec_ptr *me = src ? find_ptr(r, net, src) : NULL;
  if (!me) return n;
  // The group is sorted by net, so a network with several addresses (v4 + v6) is adjacent.
  for (uint32_t i = me->group; i < me->group + me->ngroup && n < max; i++) {
    int m = r->ptrs[r->by_name[i]].net;
    if (m != net && m != nets[n - 1]) nets[n++] = m;
  }
  return n;
}
