/* Command-line parsing in runc's shape: global flags, a verb, its flags and
 * positionals (flags may follow positionals; "--" ends flags). */
#ifndef RT_CLI_H
#define RT_CLI_H
#include <stdbool.h>
#include <stddef.h>
#include "tsutil.h"

struct opt { const char *name; char short_name; bool has_arg; bool repeat; };

struct parsed {
  const char *values[16];       /* by option index; last occurrence (or "1" for flags) */
  char *repeated[16][128];      /* by option index: every value of a repeatable option (--cap for every capability, --env) */
  size_t n_repeated[16];
  char **pos;                   /* positionals, NULL-terminated */
  size_t n_pos;
};

/* stop_after: stop parsing flags after this many positionals (exec: 1), 0 = never. */
int cli_parse(int argc, char **argv, const struct opt *opts, size_t stop_after, struct parsed *out, err_t *e);
#endif
