/* tsstack-runtime: an OCI runtime with runc's command line. Global flags and
 * dispatch; the verbs live in verb_*.c over container.c, exec.c and state.c. */
#include <stdio.h>
#include <string.h>
#include "state.h"
#include "verbs.h"

static void usage(FILE *f) {
  fputs("usage: tsstack-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [ARGS]\n"
        "commands: create, start, run, state, kill, delete, exec, list, ps, pause, resume, features, --version\n", f);
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
      /* accepted for runc compatibility; no effect here */
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
  if (!strcmp(verb, "create")) return verb_create(n, rest, false);
  if (!strcmp(verb, "run")) return verb_create(n, rest, true);
  if (!strcmp(verb, "start")) return verb_start(n, rest);
  if (!strcmp(verb, "state")) return verb_state(n, rest);
  if (!strcmp(verb, "kill")) return verb_kill(n, rest);
  if (!strcmp(verb, "delete")) return verb_delete(n, rest);
  if (!strcmp(verb, "list")) return verb_list(n, rest);
  if (!strcmp(verb, "ps")) return verb_ps(n, rest);
  if (!strcmp(verb, "exec")) return verb_exec(n, rest);
  if (!strcmp(verb, "pause")) return verb_pause(n, rest, true);
  if (!strcmp(verb, "features")) return verb_features(n, rest);
  if (!strcmp(verb, "resume")) return verb_pause(n, rest, false);
  fprintf(stderr, "tsstack-runtime: unknown command \"%s\"\n", verb);
  usage(stderr);
  return 1;
}
