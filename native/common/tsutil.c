#include "tsutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ts_fail(err_t *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (e) vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return -1;
}

int ts_failerr(err_t *e, const char *fmt, ...) {
  int saved = errno;
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof e->msg)
      snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(saved));
  }
  errno = saved;
  return -1;
}

void ts_free_p(void *p) { free(*(void **)p); }
void ts_close_p(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
void ts_fclose_p(FILE **f) {
  if (*f) fclose(*f);
}

void *ts_xmalloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) abort();
  return p;
}
void *ts_xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) abort();
  return p;
}
char *ts_xstrdup(const char *s) {
  char *p = strdup(s ? s : "");
  if (!p) abort();
  return p;
}
char *ts_xasprintf(const char *fmt, ...) {
  va_list ap;
  char *p = NULL;
  va_start(ap, fmt);
  int n = vasprintf(&p, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  return p;
}

int ts_read_file(const char *path, char **out, size_t *len, err_t *e) {
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ts_failerr(e, "cannot open %s", path);
  size_t cap = 4096, n = 0;
  char *buf = ts_xmalloc(cap);
  for (;;) {
    if (n + 1 >= cap) buf = ts_xrealloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + n, cap - n - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      free(buf);
      return ts_failerr(e, "cannot read %s", path);
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  *out = buf;
  if (len) *len = n;
  return 0;
}

int ts_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int ts_write_existing(const char *path, const char *data, err_t *e) {
  _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return ts_failerr(e, "cannot open %s", path);
  if (ts_write_all(fd, data, strlen(data)) < 0) return ts_failerr(e, "cannot write '%s' to %s", data, path);
  return 0;
}

int ts_write_atomic(const char *path, const char *data, size_t len, err_t *e) {
  _cleanup_free_ char *tmp = ts_xasprintf("%s.tmp.%d", path, (int)getpid());
  /* a new file, never one planted (a link would redirect a root write): a leftover of a crashed writer goes first */
  unlink(tmp);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return ts_failerr(e, "cannot create %s", tmp);
  if (ts_write_all(fd, data, len) < 0) {
    ts_failerr(e, "cannot write %s", tmp);
    close(fd);
    unlink(tmp);
    return -1;
  }
  close(fd);
  if (rename(tmp, path) < 0) {
    ts_failerr(e, "cannot rename %s to %s", tmp, path);
    unlink(tmp);
    return -1;
  }
  return 0;
}

int ts_mkdir_p(const char *path, mode_t mode, err_t *e) {
  /* Mostly the parents exist (or the whole path does): one call then, not one per component. */
  if (mkdir(path, mode) == 0 || errno == EEXIST) return 0;
  _cleanup_free_ char *p = ts_xstrdup(path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, mode) < 0 && errno != EEXIST) return ts_failerr(e, "cannot create directory %s", p);
    *s = '/';
  }
  if (mkdir(p, mode) < 0 && errno != EEXIST) return ts_failerr(e, "cannot create directory %s", p);
  return 0;
}

int ts_rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) return unlink(path);
  DIR *d = opendir(path);
  int rc = 0;
  if (d) {
    struct dirent *de;
    while ((de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      _cleanup_free_ char *sub = ts_xasprintf("%s/%s", path, de->d_name);
      if (ts_rm_rf(sub) < 0) rc = -1;
    }
    closedir(d);
  }
  if (rmdir(path) < 0) rc = -1;
  return rc;
}
