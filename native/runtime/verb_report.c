/* Error reporting for every verb: stderr, and --log as text or JSON lines. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "state.h"
#include "verbs.h"

const char *log_file, *log_format = "text";

int verb_report(const char *verb, const err_t *e) {
  fprintf(stderr, "tsstack-runtime %s: %s\n", verb, e->msg);
  if (log_file) {
    FILE *f = fopen(log_file, "ae");
    if (f) {
      _cleanup_free_ char *t = now_rfc3339();
      if (!strcmp(log_format, "json")) {
        jbuf b = {0};
        jb_puts(&b, "{\"level\":\"error\",\"msg\":");
        jb_str(&b, e->msg);
        jb_puts(&b, ",\"time\":");
        jb_str(&b, t);
        jb_puts(&b, "}\n");
        fputs(b.p, f);
        jb_free(&b);
      } else
        fprintf(f, "time=\"%s\" level=error msg=\"%s: %s\"\n", t, verb, e->msg);
      fclose(f);
    }
  }
  return 1;
}

int verb_need_id(const struct parsed *p, const char *verb, err_t *e) {
  if (p->n_pos < 1) return ts_fail(e, "usage: tsstack-runtime %s <container-id>", verb);
  return valid_id(p->pos[0], e);
}
