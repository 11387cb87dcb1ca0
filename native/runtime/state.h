/* The runtime's record of a container: <root>/<id>/state.json (written
 * atomically), exec.fifo while created, and the derived OCI status. */
#ifndef RT_STATE_H
#define RT_STATE_H
#include <stdbool.h>
#include <sys/types.h>
#include "cgroups.h"
#include "json.h"

struct cstate {
  char *id, *bundle, *rootfs, *created, *oci_version;
  pid_t pid;
  unsigned long long start_time;  /* /proc/<pid>/stat field 22: guards against pid reuse */
  bool creating;
  bool poststart, poststop;       /* the bundle has such hooks (saves re-reading it) */
  struct cg_dirs cg;
  json *annotations;              /* owned */
  json *doc;
};

extern const char *rt_root;       /* --root */

char *state_dir(const char *id);
char *state_fifo(const char *id);
int state_save(const struct cstate *st, err_t *e);
int state_load(const char *id, struct cstate *st, err_t *e);
void state_free(struct cstate *st);
/* "creating", "created", "running", "paused" (frozen; as runc reports it) or "stopped". */
const char *state_status(const struct cstate *st);
bool state_alive(const struct cstate *st);
/* The OCI state document, as runc prints it. */
void state_render(const struct cstate *st, jbuf *out, const char *indent);
/* The same with a given status (for hooks: the status of their moment). */
void state_render_as(const struct cstate *st, jbuf *out, const char *indent, const char *status);
unsigned long long proc_start_time(pid_t pid);
/* RFC 3339 with nanoseconds, UTC. */
char *now_rfc3339(void);
int valid_id(const char *id, err_t *e);
#endif
