/* state, list, ps: reading containers (runc's output formats). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgroups.h"
#include "state.h"
#include "verbs.h"

static int load_all(struct cstate **out, size_t *n) {
  *out = NULL;
  *n = 0;
  DIR *d = opendir(rt_root);
  if (!d) return 0;
  struct dirent *de;
  size_t cap = 0;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    struct cstate st;
    err_t e;
    if (state_load(de->d_name, &st, &e) < 0) continue;
    if (*n == cap) *out = ts_xrealloc(*out, (cap = cap ? cap * 2 : 8) * sizeof **out);
    (*out)[(*n)++] = st;
  }
  closedir(d);
  return 0;
}

static int cmp_state(const void *a, const void *b) { return strcmp(((const struct cstate *)a)->id, ((const struct cstate *)b)->id); }

int verb_state(int argc, char **argv) {
  static const struct opt opts[] = {{NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || verb_need_id(&p, "state", &e) < 0 || state_load(p.pos[0], &st, &e) < 0) return verb_report("state", &e);
  jbuf b = {0};
  state_render(&st, &b, "  ");
  puts(b.p);
  jb_free(&b);
  state_free(&st);
  return 0;
}

int verb_list(int argc, char **argv) {
  static const struct opt opts[] = {{"format", 'f', true, false}, {"quiet", 'q', false, false}, {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0) return verb_report("list", &e);
  struct cstate *all;
  size_t n;
  load_all(&all, &n);
  qsort(all, n, sizeof *all, cmp_state);
  if (p.values[1]) {
    for (size_t i = 0; i < n; i++) puts(all[i].id);
  } else if (p.values[0] && !strcmp(p.values[0], "json")) {
    jbuf b = {0};
    jb_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
      if (i) jb_puts(&b, ",");
      state_render(&all[i], &b, "");
    }
    jb_puts(&b, "]");
    puts(b.p);
    jb_free(&b);
  } else if (p.values[0] && strcmp(p.values[0], "table")) {
    ts_fail(&e, "unknown --format \"%s\" (use table or json)", p.values[0]);
    return verb_report("list", &e);
  } else {
    /* Columns as runc's tabwriter lays them out: at least 12 wide, 3 apart. */
    enum { COLS = 6 };
    static const char *head[COLS] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
    char ***cells = ts_xmalloc((n + 1) * sizeof(char **));
    size_t width[COLS] = {0};
    for (size_t i = 0; i <= n; i++) {
      cells[i] = ts_xmalloc(COLS * sizeof(char *));
      for (int k = 0; k < COLS; k++) {
        if (i == 0) cells[i][k] = ts_xstrdup(head[k]);
        else {
          const struct cstate *c = &all[i - 1];
          const char *status = state_status(c);
          switch (k) {
          case 0: cells[i][k] = ts_xstrdup(c->id); break;
          case 1: cells[i][k] = ts_xasprintf("%d", strcmp(status, "stopped") ? (int)c->pid : 0); break;
          case 2: cells[i][k] = ts_xstrdup(status); break;
          case 3: cells[i][k] = ts_xstrdup(c->bundle); break;
          case 4: cells[i][k] = ts_xstrdup(c->created); break;
          default: cells[i][k] = ts_xstrdup("root");
          }
        }
        size_t w = strlen(cells[i][k]) + 3;
        if (w < 12) w = 12;
        if (w > width[k]) width[k] = w;
      }
    }
    for (size_t i = 0; i <= n; i++) {
      for (int k = 0; k < COLS; k++) {
        if (k < COLS - 1) printf("%-*s", (int)width[k], cells[i][k]);
        else printf("%s\n", cells[i][k]);
        free(cells[i][k]);
      }
      free(cells[i]);
    }
    free(cells);
  }
  for (size_t i = 0; i < n; i++) state_free(&all[i]);
  free(all);
  return 0;
}

int verb_ps(int argc, char **argv) {
  static const struct opt opts[] = {{"format", 'f', true, false}, {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 1, &p, &e) < 0 || verb_need_id(&p, "ps", &e) < 0 || state_load(p.pos[0], &st, &e) < 0) return verb_report("ps", &e);
  pid_t *pids = NULL;
  size_t n = 0;
  if (cg_pids(&st.cg, &pids, &n, &e) < 0) return verb_report("ps", &e);
  bool json_out = p.values[0] && !strcmp(p.values[0], "json");
  if (json_out) putchar('[');
  else puts("PID");
  for (size_t i = 0; i < n; i++) {
    if (json_out) printf("%s%d", i ? "," : "", (int)pids[i]);
    else printf("%d\n", (int)pids[i]);
  }
  if (json_out) puts("]");
  free(pids);
  state_free(&st);
  return 0;
}
