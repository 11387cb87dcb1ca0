#include "cli.h"
#include <string.h>

static int find(const struct opt *opts, const char *name, size_t len, char short_name) {
  for (int i = 0; opts[i].name; i++) {
    if (short_name && opts[i].short_name == short_name) return i;
    if (!short_name && strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len)) return i;
  }
  return -1;
}

int cli_parse(int argc, char **argv, const struct opt *opts, size_t stop_after, struct parsed *out, err_t *e) {
  memset(out, 0, sizeof *out);
  out->pos = ts_xmalloc((size_t)(argc + 1) * sizeof(char *));
  bool flags_done = false;
  for (int i = 0; i < argc; i++) {
    char *a = argv[i];
    if (flags_done || a[0] != '-' || !a[1]) {
      out->pos[out->n_pos++] = a;
      if (stop_after && out->n_pos >= stop_after) flags_done = true;
      continue;
    }
    if (!strcmp(a, "--")) {
      flags_done = true;
      continue;
    }
    const char *name = a[1] == '-' ? a + 2 : a + 1;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int k = a[1] == '-' || len > 1 ? find(opts, name, len, 0) : find(opts, NULL, 0, name[0]);
    if (k < 0) return ts_fail(e, "unknown flag %s", a);
    const char *val = "1";
    if (opts[k].has_arg) {
      if (eq) val = eq + 1;
      else if (i + 1 < argc) val = argv[++i];
      else return ts_fail(e, "flag %s needs a value", a);
    }
    if (opts[k].repeat) {
      if (out->n_repeated[k] == sizeof out->repeated[k] / sizeof out->repeated[k][0]) return ts_fail(e, "too many %s flags", a);
      out->repeated[k][out->n_repeated[k]++] = (char *)val;
    }
    out->values[k] = val;
  }
  out->pos[out->n_pos] = NULL;
  return 0;
}
