/* Restart policy and back-off (pure). Back-off starts at 100 ms and doubles
 * up to 10 s; a run that lasted 10 s or more resets it, as Docker does.
 * `always` and `unless-stopped` behave the same here: Docker tells them apart
 * only when its daemon restarts, and there is no daemon. A stop request (or a
 * kill with SIGKILL/the stop signal) ends every policy. */
#include "mon.h"
#include <stdlib.h>
#include <string.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000
#define BACKOFF_RESET_RUN_MS 10000

int mon_restart_parse(struct mon_restart *r, const char *s) {
  r->max_retries = 0;
  r->delay_ms = BACKOFF_FIRST_MS;
  if (!s || !strcmp(s, "no") || !*s) r->kind = MON_RESTART_NO;
  else if (!strcmp(s, "always")) r->kind = MON_RESTART_ALWAYS;
  else if (!strcmp(s, "unless-stopped")) r->kind = MON_RESTART_UNLESS_STOPPED;
  else if (!strncmp(s, "on-failure", 10)) {
    r->kind = MON_RESTART_ON_FAILURE;
    if (s[10] == ':') {
      char *end;
      long n = strtol(s + 11, &end, 10);
      if (*end || n < 0) return -1;
      r->max_retries = (int)n;
    } else if (s[10]) return -1;
  } else return -1;
  return 0;
}

bool mon_restart_should(const struct mon_restart *r, int exit_code, int restart_count, bool stopped) {
  if (stopped) return false;
  switch (r->kind) {
    case MON_RESTART_NO: return false;
    case MON_RESTART_ALWAYS:
    case MON_RESTART_UNLESS_STOPPED: return true;
    case MON_RESTART_ON_FAILURE:
      return exit_code != 0 && (r->max_retries == 0 || restart_count < r->max_retries);
  }
  return false;
}

int64_t mon_restart_backoff(struct mon_restart *r, int64_t ran_ms) {
  if (ran_ms >= BACKOFF_RESET_RUN_MS) r->delay_ms = BACKOFF_FIRST_MS;
  int64_t d = r->delay_ms;
  r->delay_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
  return d;
}
