/* tsstack-runtime: an OCI runtime with runc's command line. Verbs are thin
 * wrappers over container.c, exec.c and state.c; this is the only place that
 * prints errors and chooses exit codes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgroups.h"
#include "cli.h"
#include "container.h"
#include "exec.h"
#include "spec.h"
#include "state.h"

static const char *log_file, *log_format = "text";

static int report(const char *verb, const err_t *e) {
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

static int need_id(const struct parsed *p, const char *verb, err_t *e) {
  if (p->n_pos < 1) return ts_fail(e, "usage: tsstack-runtime %s <container-id>", verb);
  return valid_id(p->pos[0], e);
}

static int create_or_run(int argc, char **argv, bool run) {
  static const struct opt opts[] = {
      {"bundle", 'b', true, false}, {"pid-file", 0, true, false}, {"console-socket", 0, true, false},
      {"detach", 'd', false, false}, {"no-pivot", 0, false, false}, {"preserve-fds", 0, true, false},
      {"no-new-keyring", 0, false, false}, {"keep", 0, false, false}, {"no-subreaper", 0, false, false}, {NULL, 0, false, false}};
  const char *verb = run ? "run" : "create";
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || need_id(&p, verb, &e) < 0) return report(verb, &e);
  struct create_opts o = {.id = p.pos[0], .pid_file = p.values[1], .console_socket = p.values[2], .no_pivot = p.values[4] != NULL};
  if (p.values[5]) o.preserve_fds = atoi(p.values[5]);
  bool detach = !run || p.values[3];
  struct spec s;
  if (spec_load(p.values[0] ? p.values[0] : ".", &s, &e) < 0) return report(verb, &e);
  o.own_console = run && !detach && s.proc.terminal && !o.console_socket;
  struct cstate st;
  int master = -1;
  if (container_create(&o, &s, &st, &master, &e) < 0) return report(verb, &e);
  if (!run) return 0;
  if (container_start(o.id, &e) < 0) {
    report(verb, &e);
    container_destroy(&st, &e);
    return 1;
  }
  if (detach) return 0;
  int code = wait_forwarding(st.pid, master);
  if (!p.values[7] && container_destroy(&st, &e) < 0) report(verb, &e);
  return code;
}

static int cmd_start(int argc, char **argv) {
  static const struct opt opts[] = {{NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || need_id(&p, "start", &e) < 0 || container_start(p.pos[0], &e) < 0) return report("start", &e);
  return 0;
}

static int cmd_state(int argc, char **argv) {
  static const struct opt opts[] = {{NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || need_id(&p, "state", &e) < 0 || state_load(p.pos[0], &st, &e) < 0) return report("state", &e);
  jbuf b = {0};
  state_render(&st, &b, "  ");
  puts(b.p);
  jb_free(&b);
  state_free(&st);
  return 0;
}

static int cmd_kill(int argc, char **argv) {
  static const struct opt opts[] = {{"all", 'a', false, false}, {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || need_id(&p, "kill", &e) < 0) return report("kill", &e);
  int sig = p.n_pos > 1 ? parse_signal(p.pos[1], &e) : SIGTERM;
  if (sig < 0 || state_load(p.pos[0], &st, &e) < 0) return report("kill", &e);
  const char *status = state_status(&st);
  if (strcmp(status, "running") && strcmp(status, "created")) {
    ts_fail(&e, "container \"%s\" is not running (%s)", st.id, status);
    return report("kill", &e);
  }
  if (p.values[0]) {
    pid_t *pids = NULL;
    size_t n = 0;
    if (cg_pids(&st.cg, &pids, &n, &e) < 0) return report("kill", &e);
    for (size_t i = 0; i < n; i++) kill(pids[i], sig);
    free(pids);
  }
  if (kill(st.pid, sig) < 0 && !p.values[0]) {
    ts_failerr(&e, "cannot signal container \"%s\" (pid %d)", st.id, (int)st.pid);
    return report("kill", &e);
  }
  return 0;
}

static int cmd_delete(int argc, char **argv) {
  static const struct opt opts[] = {{"force", 'f', false, false}, {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0 || need_id(&p, "delete", &e) < 0) return report("delete", &e);
  if (state_load(p.pos[0], &st, &e) < 0) {
    _cleanup_free_ char *dir = state_dir(p.pos[0]);
    struct stat sb;
    if (p.values[0] && stat(dir, &sb) == 0) return ts_rm_rf(dir) < 0 ? report("delete", &e) : 0;
    if (p.values[0] && errno == ENOENT) return 0;
    return report("delete", &e);
  }
  const char *status = state_status(&st);
  if (!p.values[0] && (!strcmp(status, "running") || !strcmp(status, "creating"))) {
    ts_fail(&e, "cannot delete container \"%s\" that is not stopped: %s", st.id, status);
    return report("delete", &e);
  }
  if (container_destroy(&st, &e) < 0) return report("delete", &e);
  return 0;
}

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

static int cmd_list(int argc, char **argv) {
  static const struct opt opts[] = {{"format", 'f', true, false}, {"quiet", 'q', false, false}, {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 0, &p, &e) < 0) return report("list", &e);
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
    return report("list", &e);
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

static int cmd_ps(int argc, char **argv) {
  static const struct opt opts[] = {{"format", 'f', true, false}, {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  struct cstate st;
  if (cli_parse(argc, argv, opts, 1, &p, &e) < 0 || need_id(&p, "ps", &e) < 0 || state_load(p.pos[0], &st, &e) < 0) return report("ps", &e);
  pid_t *pids = NULL;
  size_t n = 0;
  if (cg_pids(&st.cg, &pids, &n, &e) < 0) return report("ps", &e);
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

static int cmd_exec(int argc, char **argv) {
  static const struct opt opts[] = {
      {"tty", 't', false, false}, {"detach", 'd', false, false}, {"pid-file", 0, true, false}, {"process", 'p', true, false},
      {"env", 'e', true, true}, {"cwd", 0, true, false}, {"user", 'u', true, false}, {"console-socket", 0, true, false},
      {"preserve-fds", 0, true, false}, {"no-new-privs", 0, false, false}, {"cap", 'c', true, false}, {"additional-gids", 'g', true, false},
      {NULL, 0, false, false}};
  struct parsed p;
  err_t e;
  if (cli_parse(argc, argv, opts, 1, &p, &e) < 0 || need_id(&p, "exec", &e) < 0) return report("exec", &e);
  struct exec_opts o = {.id = p.pos[0], .tty = p.values[0], .detach = p.values[1], .pid_file = p.values[2],
                        .process_file = p.values[3], .cwd = p.values[5], .user = p.values[6], .console_socket = p.values[7],
                        .env_add = p.repeated, .n_env = p.n_repeated, .argv = p.pos + 1};
  if (p.values[8]) o.preserve_fds = atoi(p.values[8]);
  if (!o.process_file && p.n_pos < 2) {
    ts_fail(&e, "usage: tsstack-runtime exec [flags] <container-id> <command> [args…]");
    return report("exec", &e);
  }
  int rc = exec_run(&o, &e);
  if (rc < 0) return report("exec", &e);
  return rc;
}

static void usage(FILE *f) {
  fputs("usage: tsstack-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [ARGS]\n"
        "commands: create, start, run, state, kill, delete, exec, list, ps, --version\n", f);
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    const char *name = a + (a[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
#define IS(s) (len == strlen(s) && !strncmp(name, s, len))
    if (IS("root") || IS("log") || IS("log-format") || IS("criu") || IS("rootless")) {
      if (!val) {
        fprintf(stderr, "tsstack-runtime: flag %s needs a value\n", a);
        return 1;
      }
      if (!eq) i++;
      if (IS("root")) rt_root = val;
      else if (IS("log")) log_file = val;
      else if (IS("log-format")) log_format = val;
    } else if (IS("debug") || IS("systemd-cgroup")) {
    } else if (IS("version") || IS("v")) {
      puts("tsstack-runtime version 0.1.0\nspec: 1.0.2");
      return 0;
    } else if (IS("help") || IS("h")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "tsstack-runtime: unknown global flag %s\n", a);
      return 1;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 1;
  }
  const char *verb = argv[i];
  int n = argc - i - 1;
  char **rest = argv + i + 1;
  if (!strcmp(verb, "create")) return create_or_run(n, rest, false);
  if (!strcmp(verb, "run")) return create_or_run(n, rest, true);
  if (!strcmp(verb, "start")) return cmd_start(n, rest);
  if (!strcmp(verb, "state")) return cmd_state(n, rest);
  if (!strcmp(verb, "kill")) return cmd_kill(n, rest);
  if (!strcmp(verb, "delete")) return cmd_delete(n, rest);
  if (!strcmp(verb, "list")) return cmd_list(n, rest);
  if (!strcmp(verb, "ps")) return cmd_ps(n, rest);
  if (!strcmp(verb, "exec")) return cmd_exec(n, rest);
  fprintf(stderr, "tsstack-runtime: unknown command \"%s\"\n", verb);
  usage(stderr);
  return 1;
}
