#include "rootpath.h"
#include <stdbool.h>
#include "json.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40

/* A stack of path components; all but the pending tail exist. */
struct comps { char **v; size_t n, cap; };

static void push(struct comps *c, const char *s, size_t len) {
  if (c->n == c->cap) c->v = ts_xrealloc(c->v, (c->cap = c->cap ? c->cap * 2 : 16) * sizeof(char *));
  c->v[c->n++] = strndup(s, len);
}

static char *join(const char *root, const struct comps *c, size_t upto) {
  jbuf b = {0};
  jb_puts(&b, root);
  for (size_t i = 0; i < upto; i++) jb_puts(&b, "/"), jb_puts(&b, c->v[i]);
  return b.p;
}

int rootpath_resolve(const char *root, const char *path, char **out, err_t *e) {
  struct comps done = {0};
  /* `todo` is the remaining path, processed left to right; a symlink's target
   * is spliced in front of what remains. */
  _cleanup_free_ char *todo = ts_xstrdup(path);
  int links = 0, rc = -1;
  bool missing = false;
  char *p = todo;
  for (;;) {
    while (*p == '/') p++;
    if (!*p) break;
    char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 1 && p[0] == '.') {
      p += len;
      continue;
    }
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      if (done.n == 0) {
        ts_fail(e, "path %s escapes the container root filesystem via \"..\"", path);
        goto out;
      }
      free(done.v[--done.n]);
      p += len;
      continue;
    }
    push(&done, p, len);
    p += len;
    if (missing) continue;
    _cleanup_free_ char *cur = join(root, &done, done.n);
    struct stat st;
    if (lstat(cur, &st) < 0) {
      if (errno != ENOENT) {
        ts_failerr(e, "cannot resolve %s in the container root (at %s)", path, cur);
        goto out;
      }
      missing = true;
      continue;
    }
    if (!S_ISLNK(st.st_mode)) continue;
    if (++links > MAX_LINKS) {
      ts_fail(e, "too many symbolic links resolving %s in the container root", path);
      goto out;
    }
    char target[PATH_MAX];
    ssize_t tl = readlink(cur, target, sizeof target - 1);
    if (tl < 0) {
      ts_failerr(e, "cannot read symlink %s", cur);
      goto out;
    }
    target[tl] = 0;
    free(done.v[--done.n]);
    if (target[0] == '/') {
      while (done.n) free(done.v[--done.n]);
    } else {
      /* A relative link may not climb out: count its leading climbs. */
      size_t depth = done.n;
      for (char *t = target; *t;) {
        while (*t == '/') t++;
        if (!*t) break;
        char *te = strchr(t, '/');
        size_t tlen = te ? (size_t)(te - t) : strlen(t);
        if (tlen == 2 && t[0] == '.' && t[1] == '.') {
          if (depth == 0) {
            ts_fail(e, "path %s escapes the container root filesystem via the symlink %s -> %s", path, cur + strlen(root), target);
            goto out;
          }
          depth--;
        } else if (!(tlen == 1 && t[0] == '.')) depth++;
        t += tlen;
      }
    }
    char *rest = ts_xasprintf("%s/%s", target, p);
    free(todo);
    todo = rest;
    p = todo;
  }
  *out = join(root, &done, done.n);
  rc = 0;
out:
  while (done.n) free(done.v[--done.n]);
  free(done.v);
  return rc;
}
