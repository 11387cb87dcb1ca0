/* OCI lifecycle hooks: each runs with the container state JSON on stdin. */
#ifndef RT_HOOKS_H
#define RT_HOOKS_H
#include "spec.h"

extern const char *const hook_names[HOOK_KINDS];

/* Runs s's hooks of one kind in order; the first that fails (non-zero exit,
 * killed, or past its timeout) stops the rest and fills e. */
int hooks_run(const struct spec *s, int kind, const char *state_json, err_t *e);
#endif
