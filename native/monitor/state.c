/* The state file: one small JSON object, replaced atomically (temp + rename)
 * so a reader sees the old or the new state, never a mix. Keys are sorted. */
#include "mon.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct buf { char *p; size_t cap, len; bool over; };

static void put(struct buf *b, const char *s) {
  size_t n = strlen(s);
  if (b->len + n >= b->cap) { b->over = true; return; }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void put_str(struct buf *b, const char *s) {
  put(b, "\"");
  if (b->over) return;
  int n = mon_json_escape(b->p + b->len, b->cap - b->len, s, strlen(s));
  if (n < 0) { b->over = true; return; }
  b->len += (size_t)n;
  put(b, "\"");
}

static void put_int(struct buf *b, long v) {
  char t[32];
  snprintf(t, sizeof t, "%ld", v);
  put(b, t);
}

static void key(struct buf *b, const char *k, bool first) {
  if (!first) put(b, ",");
  put_str(b, k);
  put(b, ":");
}

int mon_state_write(const struct mon *m) {
  static char data[16384];
  struct buf b = { data, sizeof data, 0, false };
  const struct mon_state *s = &m->st;
  data[0] = 0;
  put(&b, "{");
  if (s->error[0]) { key(&b, "error", true); put_str(&b, s->error); key(&b, "exitCode", false); }
  else key(&b, "exitCode", true);
  put_int(&b, s->exit_code);
  if (s->finished_at[0]) { key(&b, "finishedAt", false); put_str(&b, s->finished_at); }
  /* the guard (none in the guard itself): while it lives, a container whose monitor died is its to end */
  if (m->guard_pid > 0) { key(&b, "guardPid", false); put_int(&b, (long)m->guard_pid); }
  if (m->health.enabled) {
    const struct mon_health *h = &m->health;
    key(&b, "health", false);
    put(&b, "{");
    key(&b, "failingStreak", true);
    put_int(&b, h->failing_streak);
    key(&b, "log", false);
    put(&b, "[");
    for (int i = 0; i < h->nlog; i++) {
      const struct mon_health_result *r = &h->log[i];
      if (i) put(&b, ",");
      put(&b, "{");
      key(&b, "end", true); put_str(&b, r->end);
      key(&b, "exitCode", false); put_int(&b, r->exit_code);
      key(&b, "output", false); put_str(&b, r->output);
      key(&b, "start", false); put_str(&b, r->start);
      put(&b, "}");
    }
    put(&b, "]");
    key(&b, "status", false);
    put_str(&b, h->status);
    put(&b, "}");
  }
  key(&b, "monitorPid", false); put_int(&b, (long)getpid());
  key(&b, "oomKilled", false); put(&b, s->oom_killed ? "true" : "false");
  key(&b, "pid", false); put_int(&b, (long)s->pid);
  key(&b, "restartCount", false); put_int(&b, s->restart_count);
  key(&b, "signal", false); put_int(&b, s->signal);
  if (s->started_at[0]) { key(&b, "startedAt", false); put_str(&b, s->started_at); }
  key(&b, "status", false); put_str(&b, s->status);
  put(&b, "}\n");
  if (b.over) return -1;

  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", m->state_path, (int)getpid()); /* per writer: an old and a new monitor may overlap */
  unlink(tmp); /* a new file (O_EXCL), never one planted */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600); /* root's: tsstack and tsstack-dns read it */
  if (fd < 0) return -1;
  if (mon_write_all(fd, data, b.len) < 0) { close(fd); unlink(tmp); return -1; }
  close(fd);
  return rename(tmp, m->state_path);
}
