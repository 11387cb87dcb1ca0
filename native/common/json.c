#include "json.h"
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200

struct parser {
  const char *s, *end, *p;
  err_t *e;
  int depth;
};

static int perr(struct parser *ps, const char *what) {
  int line = 1, col = 1;
  for (const char *q = ps->s; q < ps->p && q < ps->end; q++) {
    if (*q == '\n') line++, col = 1;
    else col++;
  }
  return ts_fail(ps->e, "line %d column %d: %s", line, col, what);
}

static void skip_ws(struct parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static json *node(enum json_type t) {
  json *j = ts_xmalloc(sizeof *j);
  j->type = t;
  return j;
}

static void put_utf8(jbuf *b, uint32_t cp) {
  char c[4];
  size_t n;
  if (cp < 0x80) c[0] = (char)cp, n = 1;
  else if (cp < 0x800) c[0] = (char)(0xC0 | cp >> 6), c[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
  else if (cp < 0x10000)
    c[0] = (char)(0xE0 | cp >> 12), c[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), c[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
  else
    c[0] = (char)(0xF0 | cp >> 18), c[1] = (char)(0x80 | ((cp >> 12) & 0x3F)), c[2] = (char)(0x80 | ((cp >> 6) & 0x3F)),
    c[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
  jb_putn(b, c, n);
}

static int hex4(struct parser *ps, uint32_t *out) {
  if (ps->end - ps->p < 4) return perr(ps, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = *ps->p++;
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return perr(ps, "bad hex digit in \\u escape");
  }
  *out = v;
  return 0;
}

/* ps->p is at the opening quote. */
static int parse_string(struct parser *ps, char **out, size_t *len) {
  jbuf b = {0};
  ps->p++;
  for (;;) {
    if (ps->p >= ps->end) {
      jb_free(&b);
      return perr(ps, "unterminated string");
    }
    unsigned char c = (unsigned char)*ps->p;
    if (c == '"') {
      ps->p++;
      break;
    }
    if (c < 0x20) {
      jb_free(&b);
      return perr(ps, "control character in string");
    }
    if (c != '\\') {
      /* the run of plain characters up to the next quote, escape or control character, in one copy
       * (a copy per character made parsing a container's config a fifth of the runtime's own work) */
      const char *run = ps->p;
      while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20) ps->p++;
      jb_putn(&b, run, (size_t)(ps->p - run));
      continue;
    }
    ps->p++;
    if (ps->p >= ps->end) {
      jb_free(&b);
      return perr(ps, "unterminated escape");
    }
    char esc = *ps->p++;
    switch (esc) {
    case '"': jb_puts(&b, "\""); break;
    case '\\': jb_puts(&b, "\\"); break;
    case '/': jb_puts(&b, "/"); break;
    case 'b': jb_puts(&b, "\b"); break;
    case 'f': jb_puts(&b, "\f"); break;
    case 'n': jb_puts(&b, "\n"); break;
    case 'r': jb_puts(&b, "\r"); break;
    case 't': jb_puts(&b, "\t"); break;
    case 'u': {
      uint32_t cp, lo;
      if (hex4(ps, &cp) < 0) return jb_free(&b), -1;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
          ps->p += 2;
          if (hex4(ps, &lo) < 0) return jb_free(&b), -1;
          if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          else cp = 0xFFFD;
        } else cp = 0xFFFD;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) cp = 0xFFFD;
      if (cp == 0) jb_putn(&b, "\0", 1);
      else put_utf8(&b, cp);
      break;
    }
    default: jb_free(&b); return perr(ps, "bad escape in string");
    }
  }
  *len = b.len;
  if (!b.p) jb_puts(&b, "");
  *out = b.p;
  return 0;
}

static json *parse_value(struct parser *ps);

static json *parse_number(struct parser *ps) {
  const char *start = ps->p;
  if (ps->p < ps->end && *ps->p == '-') ps->p++;
  if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return perr(ps, "bad number"), NULL;
  if (*ps->p == '0') ps->p++;
  else while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return perr(ps, "bad number fraction"), NULL;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return perr(ps, "bad number exponent"), NULL;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  }
  json *j = node(JSON_NUMBER);
  j->len = (size_t)(ps->p - start);
  j->str = strndup(start, j->len);
  return j;
}

static int literal(struct parser *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n)) return perr(ps, "unexpected token");
  ps->p += n;
  return 0;
}

static json *parse_container(struct parser *ps, bool object) {
  if (++ps->depth > MAX_DEPTH) return perr(ps, "nesting too deep"), NULL;
  json *j = node(object ? JSON_OBJECT : JSON_ARRAY);
  size_t cap = 0;
  ps->p++;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
    ps->p++;
    ps->depth--;
    return j;
  }
  for (;;) {
    char *key = NULL;
    size_t klen;
    skip_ws(ps);
    if (ps->p >= ps->end) {
      perr(ps, "unexpected end of input");
      goto fail;
    }
    if (object) {
      if (*ps->p != '"') goto bad_key;
      if (parse_string(ps, &key, &klen) < 0) goto fail;
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        free(key);
        perr(ps, "expected ':' after object key");
        goto fail;
      }
      ps->p++;
    }
    json *v = parse_value(ps);
    if (!v) {
      free(key);
      goto fail;
    }
    if (j->n == cap) {
      cap = cap ? cap * 2 : 8;
      j->items = ts_xrealloc(j->items, cap * sizeof *j->items);
      if (object) j->keys = ts_xrealloc(j->keys, cap * sizeof *j->keys);
    }
    if (object) j->keys[j->n] = key;
    j->items[j->n++] = v;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
      ps->p++;
      break;
    }
    perr(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    goto fail;
  }
  ps->depth--;
  return j;
bad_key:
  perr(ps, "expected a string object key");
fail:
  json_free(j);
  return NULL;
}

static json *parse_value(struct parser *ps) {
  skip_ws(ps);
  if (ps->p >= ps->end) return perr(ps, "unexpected end of input"), NULL;
  json *j;
  switch (*ps->p) {
  case '{': return parse_container(ps, true);
  case '[': return parse_container(ps, false);
  case '"':
    j = node(JSON_STRING);
    if (parse_string(ps, &j->str, &j->len) < 0) return free(j), NULL;
    return j;
  case 't':
    if (literal(ps, "true") < 0) return NULL;
    j = node(JSON_BOOL);
    j->boolean = true;
    return j;
  case 'f':
    if (literal(ps, "false") < 0) return NULL;
    return node(JSON_BOOL);
  case 'n':
    if (literal(ps, "null") < 0) return NULL;
    return node(JSON_NULL);
  default:
    if (*ps->p != '-' && (*ps->p < '0' || *ps->p > '9')) return perr(ps, "unexpected character"), NULL;
    return parse_number(ps);
  }
}

json *json_parse(const char *text, size_t len, err_t *e) {
  struct parser ps = {.s = text, .end = text + len, .p = text, .e = e};
  json *j = parse_value(&ps);
  if (!j) return NULL;
  skip_ws(&ps);
  if (ps.p != ps.end) {
    perr(&ps, "trailing characters after the JSON value");
    json_free(j);
    return NULL;
  }
  return j;
}

void json_free(json *j) {
  if (!j) return;
  for (size_t i = 0; i < j->n; i++) {
    json_free(j->items[i]);
    if (j->keys) free(j->keys[i]);
  }
  free(j->items);
  free(j->keys);
  free(j->str);
  free(j);
}
void json_free_p(json **j) { json_free(*j); }

json *json_get(const json *j, const char *key) {
  if (!j || j->type != JSON_OBJECT) return NULL;
  json *found = NULL;
  for (size_t i = 0; i < j->n; i++)  /* last duplicate wins, as in most decoders */
    if (!strcmp(j->keys[i], key)) found = j->items[i];
  return found;
}

json *json_at(const json *j, size_t i) {
  if (!j || (j->type != JSON_ARRAY && j->type != JSON_OBJECT) || i >= j->n) return NULL;
  return j->items[i];
}

const char *json_string(const json *j) { return j && j->type == JSON_STRING ? j->str : NULL; }

const char *json_type_name(enum json_type t) {
  static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
  return names[t];
}

int json_as_i64(const json *j, long long *out, const char *what, err_t *e) {
  if (!j || j->type != JSON_NUMBER) return ts_fail(e, "%s: expected an integer, got %s", what, j ? json_type_name(j->type) : "nothing");
  char *end;
  errno = 0;
  long long v = strtoll(j->str, &end, 10);
  if (errno || *end) return ts_fail(e, "%s: %s is not a 64-bit integer", what, j->str);
  *out = v;
  return 0;
}

int json_as_u64(const json *j, unsigned long long *out, const char *what, err_t *e) {
  if (!j || j->type != JSON_NUMBER) return ts_fail(e, "%s: expected an integer, got %s", what, j ? json_type_name(j->type) : "nothing");
  char *end;
  errno = 0;
  if (j->str[0] == '-') return ts_fail(e, "%s: %s must not be negative", what, j->str);
  unsigned long long v = strtoull(j->str, &end, 10);
  if (errno || *end) return ts_fail(e, "%s: %s is not an unsigned 64-bit integer", what, j->str);
  *out = v;
  return 0;
}

int json_as_bool(const json *j, bool *out, const char *what, err_t *e) {
  if (!j || j->type != JSON_BOOL) return ts_fail(e, "%s: expected a boolean, got %s", what, j ? json_type_name(j->type) : "nothing");
  *out = j->boolean;
  return 0;
}

void jb_putn(jbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    while (b->len + n + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 256;
    b->p = ts_xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
void jb_puts(jbuf *b, const char *s) { jb_putn(b, s, strlen(s)); }
void jb_printf(jbuf *b, const char *fmt, ...) {
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  jb_putn(b, s, (size_t)n);
  free(s);
}
void jb_str(jbuf *b, const char *s) {
  jb_puts(b, "\"");
  /* runs of characters that need no escape are copied whole: a copy a character was ~7000 calls of
   * memcpy in a `run`, whose state file holds the bundle's annotations and paths */
  const unsigned char *run = (const unsigned char *)s, *p = run;
  for (;; p++) {
    unsigned char c = *p;
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    if (p > run) jb_putn(b, (const char *)run, (size_t)(p - run));
    run = p + 1;
    switch (c) {
    case 0: jb_puts(b, "\""); return;
    case '"': jb_puts(b, "\\\""); break;
    case '\\': jb_puts(b, "\\\\"); break;
    case '\n': jb_puts(b, "\\n"); break;
    case '\r': jb_puts(b, "\\r"); break;
    case '\t': jb_puts(b, "\\t"); break;
    case '\b': jb_puts(b, "\\b"); break;
    case '\f': jb_puts(b, "\\f"); break;
    default: jb_printf(b, "\\u%04x", c);
    }
  }
}
void jb_free(jbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
