/* Health checks, as Docker runs them: the probe is `runtime exec` of an argv
 * (CMD-SHELL is turned into ["/bin/sh","-c",…] by the engine). Exit 0 =
 * healthy. Failures during start_period do not count toward `retries` (a
 * success there already makes it healthy); `retries` consecutive failures
 * afterwards make it unhealthy. During start_period, probes run every
 * start_interval (when set) instead of interval. A probe running longer than
 * timeout is killed and counts as a failure. */
#include "mon.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static bool in_start_period(const struct mon *m, int64_t now) {
  return now - m->started_mono < m->health.start_period_ms;
}

static int64_t next_delay(const struct mon *m, int64_t now) {
  const struct mon_health *h = &m->health;
  if (h->start_interval_ms > 0 && in_start_period(m, now) && !strcmp(h->status, "starting")) return h->start_interval_ms;
  return h->interval_ms;
}

void mon_health_schedule_first(struct mon *m) {
  struct mon_health *h = &m->health;
  if (!h->enabled) return;
  h->status = "starting";
  h->failing_streak = 0;
  h->next_at = mon_now_ms() + next_delay(m, mon_now_ms());
}

static void launch(struct mon *m, int64_t now) {
  struct mon_health *h = &m->health;
  int p[2];
  h->next_at = 0;
  if (pipe2(p, O_CLOEXEC) < 0) { h->next_at = now + h->interval_ms; return; }
  char *args[MON_MAX_HEALTH_ARGS + 8];
  int n = 0;
  args[n++] = "exec";
  args[n++] = "--pid-file";
  args[n++] = h->pid_file;
  args[n++] = (char *)m->id;
  for (int i = 0; i < h->argc; i++) args[n++] = h->argv[i];
  args[n] = NULL;
  /* a fresh pid file per probe: a probe killed on timeout can leave the runtime's temp file behind */
  snprintf(h->pid_file, sizeof h->pid_file, "%.3990s-%u.pid", h->pid_base, ++h->seq);
  memset(&h->cur, 0, sizeof h->cur);
  h->cur_len = 0;
  mon_rfc3339(h->cur.start);
  h->pid = mon_runtime_spawn(m, args, -1, p[1], p[1]);
  close(p[1]);
  if (h->pid < 0) { close(p[0]); h->pid = 0; h->next_at = now + h->interval_ms; return; }
  mon_set_nonblock(p[0]);
  h->out_fd = p[0];
  h->deadline = now + h->timeout_ms;
  h->inner_pid = 0;
}

/* The probe's pid file and the temp file runc-style runtimes write before renaming it (".<name>"). */
static void remove_pid_files(struct mon_health *h) {
  if (!h->pid_file[0]) return;
  unlink(h->pid_file);
  char tmp[4200];
  const char *slash = strrchr(h->pid_file, '/');
  if (slash) {
    snprintf(tmp, sizeof tmp, "%.*s/.%s", (int)(slash - h->pid_file), h->pid_file, slash + 1);
    unlink(tmp);
  }
}

static void kill_probe(struct mon *m) {
  struct mon_health *h = &m->health;
  long ip = mon_read_long(h->pid_file);
  if (ip > 0) kill((pid_t)ip, SIGKILL);
  if (h->pid > 0) kill(h->pid, SIGKILL);
}

void mon_health_tick(struct mon *m, int64_t now) {
  struct mon_health *h = &m->health;
  if (!h->enabled || strcmp(m->st.status, "running")) return;
  if (h->pid > 0) {
    if (h->deadline && now >= h->deadline) {
      h->deadline = 0;
      h->cur.exit_code = -1; /* marks the timeout for reaped() */
      kill_probe(m);
    }
    return;
  }
  if (h->next_at && now >= h->next_at) launch(m, now);
}

void mon_health_readable(struct mon *m) {
  struct mon_health *h = &m->health;
  char tmp[512];
  for (;;) {
    ssize_t r = read(h->out_fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0 || errno != EAGAIN) { close(h->out_fd); h->out_fd = -1; }
      return;
    }
    size_t room = sizeof h->cur.output - 1 - h->cur_len;
    size_t take = (size_t)r < room ? (size_t)r : room;
    memcpy(h->cur.output + h->cur_len, tmp, take);
    h->cur_len += take;
    h->cur.output[h->cur_len] = 0;
  }
}

bool mon_health_reaped(struct mon *m, pid_t pid, int status) {
  struct mon_health *h = &m->health;
  if (!h->enabled || pid != h->pid || pid == 0) return false;
  if (h->out_fd >= 0) mon_health_readable(m);
  if (h->out_fd >= 0) { close(h->out_fd); h->out_fd = -1; }
  h->pid = 0;
  remove_pid_files(h);
  int64_t now = mon_now_ms();
  bool timed_out = h->cur.exit_code == -1;
  h->deadline = 0;
  mon_rfc3339(h->cur.end);
  if (timed_out) {
    snprintf(h->cur.output, sizeof h->cur.output, "Health check exceeded timeout (%lldms)", (long long)h->timeout_ms);
    h->cur.exit_code = -1;
  } else {
    h->cur.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  if (h->cur.exit_code == 0) {
    h->status = "healthy";
    h->failing_streak = 0;
  } else if (!in_start_period(m, now) || strcmp(h->status, "starting")) {
    h->failing_streak++;
    if (h->failing_streak >= h->retries) h->status = "unhealthy";
  }
  if (h->nlog == MON_HEALTH_KEEP) {
    memmove(&h->log[0], &h->log[1], sizeof h->log[0] * (MON_HEALTH_KEEP - 1));
    h->nlog--;
  }
  h->log[h->nlog++] = h->cur;
  if (!strcmp(m->st.status, "running")) h->next_at = now + next_delay(m, now);
  mon_state_write(m);
  return true;
}

void mon_health_cancel(struct mon *m) {
  struct mon_health *h = &m->health;
  h->next_at = 0;
  if (h->pid > 0) kill_probe(m);
  remove_pid_files(h);
}
