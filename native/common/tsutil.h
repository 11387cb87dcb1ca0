/* Shared C helpers: error values, scope cleanup, small file IO.
 * Every fallible function returns < 0 and fills an err_t whose message names
 * the offending path or value. */
#ifndef TS_UTIL_H
#define TS_UTIL_H
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct { char msg[1024]; } err_t;

/* The real-time signals as Docker, runc and glibc number them for programs: glibc keeps 32 and 33 for
 * itself, so "SIGRTMIN" is 34 and systemd's stop signal "SIGRTMIN+3" 37. musl keeps 32-34 and says 35:
 * a binary built with it must not take the C library's SIGRTMIN for a container's signal names. */
#define TS_SIGRTMIN 34
#define TS_SIGRTMAX 64

/* Formats into e and returns -1. */
int ts_fail(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like ts_fail, appending ": strerror(errno)"; errno is preserved. */
int ts_failerr(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void ts_free_p(void *p);
void ts_close_p(int *fd);
void ts_fclose_p(FILE **f);
#define _cleanup_free_ __attribute__((cleanup(ts_free_p)))
#define _cleanup_close_ __attribute__((cleanup(ts_close_p)))
#define _cleanup_fclose_ __attribute__((cleanup(ts_fclose_p)))

void *ts_xmalloc(size_t n);         /* aborts on OOM: a runtime cannot continue without memory */
void *ts_xrealloc(void *p, size_t n);
char *ts_xstrdup(const char *s);
char *ts_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a whole file, NUL-terminated; *len excludes the NUL. */
int ts_read_file(const char *path, char **out, size_t *len, err_t *e);
/* open(O_WRONLY|O_TRUNC) and write data: for cgroup and proc files (no create). */
int ts_write_existing(const char *path, const char *data, err_t *e);
/* Writes data to path.tmp then renames over path (mode 0644): readers see the
 * old or the new file, never a part. No fsync: state lives on tmpfs (/run). */
int ts_write_atomic(const char *path, const char *data, size_t len, err_t *e);
/* mkdir -p; created (optional) receives 1 if the last component was made. */
int ts_mkdir_p(const char *path, mode_t mode, err_t *e);
/* Writes all bytes, retrying on EINTR and short writes. */
int ts_write_all(int fd, const void *buf, size_t len);
/* Recursively removes a directory tree (best effort); returns < 0 on the first failure. */
int ts_rm_rf(const char *path);
#endif
