#include "state.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *rt_root = "/run/tsstack-runtime";

char *state_dir(const char *id) { return ts_xasprintf("%s/%s", rt_root, id); }
char *state_fifo(const char *id) { return ts_xasprintf("%s/%s/exec.fifo", rt_root, id); }

int valid_id(const char *id, err_t *e) {
  if (!*id) return ts_fail(e, "container id must not be empty");
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_+-.", *p)))
      return ts_fail(e, "invalid container id \"%s\": use letters, digits, '_', '+', '-' and '.'", id);
  if (!strcmp(id, ".") || !strcmp(id, "..")) return ts_fail(e, "invalid container id \"%s\"", id);
  return 0;
}

unsigned long long proc_start_time(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');  /* comm may hold spaces */
  if (!p) return 0;
  char state;
  unsigned long long v = 0;
  /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime(22) */
  if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &state, &v) != 2) return 0;
  if (state == 'Z' || state == 'X') return 0;
  return v;
}

char *now_rfc3339(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return ts_xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

static void put_list(jbuf *b, const char *key, char *const *v, size_t n) {
  jb_printf(b, ",\n  ");
  jb_str(b, key);
  jb_puts(b, ": [");
  for (size_t i = 0; i < n; i++) {
    if (i) jb_puts(b, ", ");
    jb_str(b, v[i]);
  }
  jb_puts(b, "]");
}

static void put_json(jbuf *b, const json *j) {
  switch (j->type) {
  case JSON_NULL: jb_puts(b, "null"); break;
  case JSON_BOOL: jb_puts(b, j->boolean ? "true" : "false"); break;
  case JSON_NUMBER: jb_puts(b, j->str); break;
  case JSON_STRING: jb_str(b, j->str); break;
  case JSON_ARRAY:
  case JSON_OBJECT:
    jb_puts(b, j->type == JSON_ARRAY ? "[" : "{");
    for (size_t i = 0; i < j->n; i++) {
      if (i) jb_puts(b, ",");
      if (j->type == JSON_OBJECT) jb_str(b, j->keys[i]), jb_puts(b, ":");
      put_json(b, j->items[i]);
    }
    jb_puts(b, j->type == JSON_ARRAY ? "]" : "}");
  }
}

int state_save(const struct cstate *st, err_t *e) {
  jbuf b = {0};
  jb_puts(&b, "{\n  \"id\": ");
  jb_str(&b, st->id);
  jb_printf(&b, ",\n  \"pid\": %d,\n  \"startTime\": %llu,\n  \"creating\": %s,\n  \"bundle\": ", (int)st->pid, st->start_time, st->creating ? "true" : "false");
  jb_str(&b, st->bundle);
  jb_puts(&b, ",\n  \"rootfs\": ");
  jb_str(&b, st->rootfs);
  jb_puts(&b, ",\n  \"created\": ");
  jb_str(&b, st->created);
  jb_puts(&b, ",\n  \"ociVersion\": ");
  jb_str(&b, st->oci_version);
  jb_printf(&b, ",\n  \"cgroupV2\": %s,\n  \"cgroupFake\": %s", st->cg.v2 ? "true" : "false", st->cg.fake ? "true" : "false");
  jb_printf(&b, ",\n  \"hooks\": {\"poststart\": %s, \"poststop\": %s}", st->poststart ? "true" : "false", st->poststop ? "true" : "false");
  put_list(&b, "cgroupLeaves", st->cg.leaves, st->cg.n_leaves);
  put_list(&b, "cgroupControllers", st->cg.leaf_ctl, st->cg.n_leaves);
  put_list(&b, "cgroupCreated", st->cg.created, st->cg.n_created);
  if (st->annotations) {
    jb_puts(&b, ",\n  \"annotations\": ");
    put_json(&b, st->annotations);
  }
  jb_puts(&b, "\n}\n");
  _cleanup_free_ char *dir = state_dir(st->id);
  _cleanup_free_ char *path = ts_xasprintf("%s/state.json", dir);
  int rc = ts_write_atomic(path, b.p, b.len, e);
  jb_free(&b);
  return rc;
}

static char *get_str(const json *doc, const char *key) {
  const char *s = json_string(json_get(doc, key));
  return ts_xstrdup(s ? s : "");
}

static size_t get_list(const json *doc, const char *key, char **out, size_t max) {
  json *a = json_get(doc, key);
  size_t n = 0;
  for (size_t i = 0; a && a->type == JSON_ARRAY && i < a->n && n < max; i++)
    if (a->items[i]->type == JSON_STRING) out[n++] = ts_xstrdup(a->items[i]->str);
  return n;
}

int state_load(const char *id, struct cstate *st, err_t *e) {
  memset(st, 0, sizeof *st);
  if (valid_id(id, e) < 0) return -1;
  _cleanup_free_ char *dir = state_dir(id);
  _cleanup_free_ char *path = ts_xasprintf("%s/state.json", dir);
  _cleanup_free_ char *text = NULL;
  size_t len;
  struct stat sb;
  if (stat(dir, &sb) < 0) return ts_fail(e, "container \"%s\" does not exist", id);
  if (ts_read_file(path, &text, &len, e) < 0) return -1;
  err_t pe;
  st->doc = json_parse(text, len, &pe);
  if (!st->doc) return ts_fail(e, "%s: %s", path, pe.msg);
  st->id = get_str(st->doc, "id");
  st->bundle = get_str(st->doc, "bundle");
  st->rootfs = get_str(st->doc, "rootfs");
  st->created = get_str(st->doc, "created");
  st->oci_version = get_str(st->doc, "ociVersion");
  long long v = 0;
  unsigned long long u = 0;
  if (json_as_i64(json_get(st->doc, "pid"), &v, "pid", e) == 0) st->pid = (pid_t)v;
  if (json_as_u64(json_get(st->doc, "startTime"), &u, "startTime", e) == 0) st->start_time = u;
  json *c = json_get(st->doc, "creating");
  st->creating = c && c->type == JSON_BOOL && c->boolean;
  c = json_get(st->doc, "cgroupV2");
  st->cg.v2 = c && c->type == JSON_BOOL && c->boolean;
  json *hooks = json_get(st->doc, "hooks");
  c = json_get(hooks, "poststart");
  st->poststart = c && c->type == JSON_BOOL && c->boolean;
  c = json_get(hooks, "poststop");
  st->poststop = c && c->type == JSON_BOOL && c->boolean;
  c = json_get(st->doc, "cgroupFake");
  st->cg.fake = c && c->type == JSON_BOOL && c->boolean;
  st->cg.n_leaves = get_list(st->doc, "cgroupLeaves", st->cg.leaves, CG_MAX);
  size_t nc = get_list(st->doc, "cgroupControllers", st->cg.leaf_ctl, CG_MAX);
  for (; nc < st->cg.n_leaves; nc++) st->cg.leaf_ctl[nc] = ts_xstrdup("");
  st->cg.n_created = get_list(st->doc, "cgroupCreated", st->cg.created, sizeof st->cg.created / sizeof st->cg.created[0]);
  st->annotations = json_get(st->doc, "annotations");
  return 0;
}

void state_free(struct cstate *st) {
  free(st->id), free(st->bundle), free(st->rootfs), free(st->created), free(st->oci_version);
  cg_dirs_free(&st->cg);
  json_free(st->doc);
  memset(st, 0, sizeof *st);
}

bool state_alive(const struct cstate *st) {
  if (st->pid <= 0) return false;
  unsigned long long t = proc_start_time(st->pid);
  return t != 0 && (st->start_time == 0 || t == st->start_time);
}

const char *state_status(const struct cstate *st) {
  if (st->creating) return "creating";
  if (!state_alive(st)) return "stopped";
  _cleanup_free_ char *fifo = state_fifo(st->id);
  if (access(fifo, F_OK) == 0) return "created";
  return cg_frozen(&st->cg) ? "paused" : "running";
}

void state_render(const struct cstate *st, jbuf *b, const char *ind) { state_render_as(st, b, ind, NULL); }

void state_render_as(const struct cstate *st, jbuf *b, const char *ind, const char *status) {
  if (!status) status = state_status(st);
  bool stopped = !strcmp(status, "stopped");
  const char *nl = *ind ? "\n" : "", *sp = *ind ? " " : "";
  jb_printf(b, "{%s%s\"ociVersion\":%s", nl, ind, sp);
  jb_str(b, st->oci_version && *st->oci_version ? st->oci_version : "1.0.2");
  jb_printf(b, ",%s%s\"id\":%s", nl, ind, sp);
  jb_str(b, st->id);
  jb_printf(b, ",%s%s\"pid\":%s%d", nl, ind, sp, stopped ? 0 : (int)st->pid);
  jb_printf(b, ",%s%s\"status\":%s", nl, ind, sp);
  jb_str(b, status);
  jb_printf(b, ",%s%s\"bundle\":%s", nl, ind, sp);
  jb_str(b, st->bundle);
  jb_printf(b, ",%s%s\"rootfs\":%s", nl, ind, sp);
  jb_str(b, st->rootfs);
  jb_printf(b, ",%s%s\"created\":%s", nl, ind, sp);
  jb_str(b, st->created);
  if (st->annotations && st->annotations->type == JSON_OBJECT && st->annotations->n) {
    jb_printf(b, ",%s%s\"annotations\":%s", nl, ind, sp);
    put_json(b, st->annotations);
  }
  jb_printf(b, ",%s%s\"owner\":%s\"\"%s}", nl, ind, sp, nl);
}
