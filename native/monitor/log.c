/* The container log: JSON lines {"time","stream","log"} (Docker's json-file
 * layout, `log` keeps the trailing newline of a complete line), rotated by
 * size: log.json → log.json.1 → … → log.json.<max_files-1>, oldest dropped. */
#include "mon.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mon_log_open(struct mon_log *l) {
  l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600); /* output may hold secrets: root's */
  if (l->fd < 0) return -1;
  struct stat st;
  l->size = fstat(l->fd, &st) == 0 ? st.st_size : 0;
  return 0;
}

static void rotate(struct mon_log *l) {
  char from[4200], to[4200];
  close(l->fd);
  l->fd = -1;
  if (l->max_files <= 1) {
    unlink(l->path);
  } else {
    for (int i = l->max_files - 1; i >= 1; i--) {
      if (i == 1) snprintf(from, sizeof from, "%s", l->path);
      else snprintf(from, sizeof from, "%s.%d", l->path, i - 1);
      snprintf(to, sizeof to, "%s.%d", l->path, i);
      rename(from, to);
    }
  }
  mon_log_open(l);
}

void mon_log_line(struct mon_log *l, const char *stream, const char *text, size_t n) {
  /* Worst case every byte becomes \u00XX (6 bytes); lines are at most sizeof(stream buf). */
  char line[4096 * 6 + 128];
  char ts[40];
  mon_rfc3339(ts);
  int hl = snprintf(line, sizeof line, "{\"time\":\"%s\",\"stream\":\"%s\",\"log\":\"", ts, stream);
  int el = mon_json_escape(line + hl, sizeof line - (size_t)hl - 4, text, n);
  if (el < 0) return;
  size_t len = (size_t)hl + (size_t)el;
  memcpy(line + len, "\"}\n", 3);
  len += 3;
  if (l->fd < 0) return;
  if (l->max_size > 0 && l->size > 0 && l->size + (int64_t)len > l->max_size) rotate(l);
  if (l->fd < 0) return;
  if (mon_write_all(l->fd, line, len) == 0) l->size += (int64_t)len;
}

void mon_stream_feed(struct mon_log *l, struct mon_stream *s, const char *data, size_t n) {
  while (n > 0) {
    size_t room = sizeof s->buf - s->len;
    size_t take = n < room ? n : room;
    memcpy(s->buf + s->len, data, take);
    s->len += take;
    data += take;
    n -= take;
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
      if (s->buf[i] == '\n') {
        mon_log_line(l, s->name, s->buf + start, i + 1 - start);
        start = i + 1;
      }
    }
    if (start > 0) {
      memmove(s->buf, s->buf + start, s->len - start);
      s->len -= start;
    } else if (s->len == sizeof s->buf) {
      /* A line longer than the buffer goes out in parts (without newline). */
      mon_log_line(l, s->name, s->buf, s->len);
      s->len = 0;
    }
  }
}

void mon_stream_flush(struct mon_log *l, struct mon_stream *s) {
  if (s->len > 0) mon_log_line(l, s->name, s->buf, s->len);
  s->len = 0;
}
