/* Test driver for native/common/json.c: reads NUL-separated documents on stdin
 * and prints, per document, "OK <compact JSON>" or "ERR <message>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

static void emit(jbuf *b, const json *j) {
  switch (j->type) {
  case JSON_NULL: jb_puts(b, "null"); break;
  case JSON_BOOL: jb_puts(b, j->boolean ? "true" : "false"); break;
  case JSON_NUMBER: jb_puts(b, j->str); break;
  case JSON_STRING:
    if (strlen(j->str) != j->len) jb_puts(b, "\"<NUL>\"");
    else jb_str(b, j->str);
    break;
  default:
    jb_puts(b, j->type == JSON_ARRAY ? "[" : "{");
    for (size_t i = 0; i < j->n; i++) {
      if (i) jb_puts(b, ",");
      if (j->type == JSON_OBJECT) jb_str(b, j->keys[i]), jb_puts(b, ":");
      emit(b, j->items[i]);
    }
    jb_puts(b, j->type == JSON_ARRAY ? "]" : "}");
  }
}

int main(void) {
  size_t cap = 1 << 16, n = 0;
  char *in = malloc(cap);
  size_t r;
  while ((r = fread(in + n, 1, cap - n, stdin)) > 0) {
    n += r;
    if (n == cap) in = realloc(in, cap *= 2);
  }
  for (size_t start = 0; start < n;) {
    char *end = memchr(in + start, 0, n - start);
    size_t len = end ? (size_t)(end - (in + start)) : n - start;
    err_t e;
    json *j = json_parse(in + start, len, &e);
    if (j) {
      jbuf b = {0};
      emit(&b, j);
      printf("OK %s\n", b.p);
      jb_free(&b);
      json_free(j);
    } else printf("ERR %s\n", e.msg);
    start += len + 1;
  }
  return 0;
}
