/* Linux capabilities by name, and applying the five OCI sets. */
#ifndef RT_CAPS_H
#define RT_CAPS_H
#include <stdint.h>
#include "spec.h"

/* The name ("CHOWN") of capability n, or NULL past the table. */
const char *caps_name(int n);
/* Returns the capability number for "CAP_X", or -1 if unknown. */
int caps_from_name(const char *name);
/* Drops every capability outside the bounding set. Needs CAP_SETPCAP. */
int caps_apply_bounding(const uint64_t caps[CAPSET_N], err_t *e);
/* Sets effective/permitted/inheritable, then raises ambient. Call after setuid
 * with PR_SET_KEEPCAPS on. */
int caps_apply_sets(const uint64_t caps[CAPSET_N], err_t *e);
#endif
