/* The CLI verbs, one group per file; main.c dispatches to them. Each returns
 * the process exit status and reports its own errors through verb_report. */
#ifndef RT_VERBS_H
#define RT_VERBS_H
#include <stdbool.h>
#include "cli.h"

extern const char *log_file, *log_format;  /* --log, --log-format */

/* Prints "tsstack-runtime VERB: message" on stderr (and to --log); returns 1. */
int verb_report(const char *verb, const err_t *e);
/* The first positional must be a valid container id. */
int verb_need_id(const struct parsed *p, const char *verb, err_t *e);

int verb_create(int argc, char **argv, bool run);  /* create, run */
int verb_start(int argc, char **argv);
int verb_kill(int argc, char **argv);
int verb_delete(int argc, char **argv);
int verb_pause(int argc, char **argv, bool freeze);  /* pause, resume */
int verb_state(int argc, char **argv);
int verb_list(int argc, char **argv);
int verb_ps(int argc, char **argv);
int verb_exec(int argc, char **argv);
int verb_features(int argc, char **argv);
#endif
