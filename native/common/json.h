/* A small JSON (RFC 8259) DOM parser and a string builder for emitting JSON.
 * Numbers keep their source text so 64-bit integers round-trip exactly. */
#ifndef TS_JSON_H
#define TS_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include "tsutil.h"

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

typedef struct json {
  enum json_type type;
  bool boolean;
  char *str;      /* string value (UTF-8, NUL-terminated), or number text */
  size_t len;     /* string length in bytes (strings may hold \u0000) */
  size_t n;       /* array/object element count */
  struct json **items;
  char **keys;    /* object keys, parallel to items */
} json;

/* Parses text; on error returns NULL and e says "line L column C: what". */
json *json_parse(const char *text, size_t len, err_t *e);
void json_free(json *j);
void json_free_p(json **j);
#define _cleanup_json_ __attribute__((cleanup(json_free_p)))

/* Lookups return NULL when j is not an object/array or the member is absent. */
json *json_get(const json *j, const char *key);
json *json_at(const json *j, size_t i);
/* Typed accessors: return < 0 (and fill e naming `what`) on a type mismatch. */
const char *json_string(const json *j);  /* NULL unless a string */
int json_as_i64(const json *j, long long *out, const char *what, err_t *e);
int json_as_u64(const json *j, unsigned long long *out, const char *what, err_t *e);
int json_as_bool(const json *j, bool *out, const char *what, err_t *e);
const char *json_type_name(enum json_type t);

/* Growable output buffer. */
typedef struct { char *p; size_t len, cap; } jbuf;
void jb_puts(jbuf *b, const char *s);
void jb_putn(jbuf *b, const char *s, size_t n);
void jb_printf(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted, escaped JSON string. */
void jb_str(jbuf *b, const char *s);
void jb_free(jbuf *b);
#endif
