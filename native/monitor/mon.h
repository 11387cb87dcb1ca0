/* tsstack-monitor: one small supervisor per container (the role of conmon).
 * Shared types and the prototypes of each concern's file. All symbols carry
 * the mon_ prefix so they never clash with native/common, which is linked in. */
#ifndef TSSTACK_MON_H
#define TSSTACK_MON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <poll.h>

#define MON_MAX_HEALTH_ARGS 64
#define MON_HEALTH_KEEP 5      /* results kept in the state file, like Docker */
#define MON_HEALTH_OUT 1024    /* bytes of output kept per result */
#define MON_CTL_CLIENTS 4      /* control connections served at once */

enum mon_restart_kind { MON_RESTART_NO, MON_RESTART_ALWAYS, MON_RESTART_ON_FAILURE, MON_RESTART_UNLESS_STOPPED };

struct mon_restart {
  enum mon_restart_kind kind;
  int max_retries;   /* on-failure:N; 0 = unlimited */
  int64_t delay_ms;  /* next back-off delay */
};

struct mon_health_result {
  char start[40], end[40];
  int exit_code;
  char output[MON_HEALTH_OUT];
};

struct mon_health {
  bool enabled;
  char *argv[MON_MAX_HEALTH_ARGS + 1];
  int argc;
  int64_t interval_ms, timeout_ms, start_period_ms, start_interval_ms;
  int retries;
  /* live */
  const char *status;   /* "starting" | "healthy" | "unhealthy" */
  int failing_streak;
  int64_t next_at;      /* monotonic ms of the next probe; 0 = none scheduled */
  int64_t deadline;     /* monotonic ms when the running probe times out */
  pid_t pid;            /* running probe (runtime exec), 0 = none */
  pid_t inner_pid;      /* the probe's process inside the container */
  int out_fd;
  char pid_file[4096];   /* per probe: <dir>/health-<monitor pid>-<seq>.pid */
  char pid_base[4000];   /* <dir>/health-<monitor pid> */
  unsigned seq;
  struct mon_health_result cur;
  size_t cur_len;
  struct mon_health_result log[MON_HEALTH_KEEP];
  int nlog;
};

struct mon_log {
  char path[4096];
  int fd;
  int64_t size;
  int64_t max_size;  /* 0 = no rotation */
  int max_files;     /* files kept including the live one */
};

/* One line-assembling buffer per stream. */
struct mon_stream {
  const char *name;  /* "stdout" | "stderr" */
  int fd;            /* read end, -1 when closed */
  char buf[4096];
  size_t len;
};

struct mon_state {
  const char *status;   /* created | running | restarting | exited | dead */
  pid_t pid;
  int exit_code;
  int signal;
  bool oom_killed;
  int restart_count;
  char started_at[40], finished_at[40];
  char error[512];
};

struct mon {
  /* configuration (command line) */
  int argc;               /* the command line as given (the guard runs it again with --guard-cleanup) */
  char **argv;
  const char *runtime, *runtime_root, *id, *bundle, *state_path, *socket_path, *pid_path;
  int state_dir_len;      /* length of the state file's directory part */
  int stop_signal;
  int64_t stop_timeout_ms;
  bool tty;
  bool stdin_open;        /* keep the container's stdin open (a pipe nobody writes to), like `stdin_open: true` */
  int stdin_w;            /* our end of that pipe, -1 otherwise */
  struct mon_restart restart;
  struct mon_health health;
  struct mon_log log;
  /* live */
  struct mon_state st;
  struct mon_stream out, err;
  int console_listen;     /* listening console socket (tty), -1 otherwise */
  char console_path[4096];
  int ctl_fd;             /* control socket, -1 if none */
  unsigned long ctl_ino;  /* inode of the socket we bound */
  struct mon_ctl_client { int fd; size_t len; int64_t deadline; char line[128]; } ctl_clients[MON_CTL_CLIENTS];
  int sig_fd;
  int guard_fd;           /* write end of the guard pipe */
  pid_t guard_pid;
  bool stop_requested;
  int64_t kill_at;        /* monotonic ms to SIGKILL after a stop, 0 = none */
  int64_t restart_at;     /* monotonic ms of the next restart, 0 = none */
  int64_t started_mono;
  char oom_path[4096];    /* cgroup file counting OOM kills ("" = unknown) */
  long oom_base;
};

/* util.c */
int64_t mon_now_ms(void);
void mon_rfc3339(char out[40]);
/* Appends s as a JSON string body (no quotes) to out; returns bytes written or -1 when it does not fit. */
int mon_json_escape(char *out, size_t cap, const char *s, size_t n);
int mon_parse_signal(const char *s);
int mon_write_all(int fd, const char *buf, size_t n);
void mon_set_cloexec(int fd);
void mon_set_nonblock(int fd);
/* Reads at most cap-1 bytes of a small file (pid files, cgroup counters), NUL-terminated; -1 if it cannot.
 * By hand rather than with stdio, whose scanf would add its float parser to every monitor's pages. */
ssize_t mon_read_small(const char *path, char *buf, size_t cap);
/* The number a pid file holds; 0 if none. */
long mon_read_long(const char *path);
/* Closes every fd from fd up. */
void mon_close_from(int fd);

/* log.c */
int mon_log_open(struct mon_log *l);
void mon_log_line(struct mon_log *l, const char *stream, const char *text, size_t n);
/* Feeds bytes read from a stream; emits complete lines (and full buffers). */
void mon_stream_feed(struct mon_log *l, struct mon_stream *s, const char *data, size_t n);
void mon_stream_flush(struct mon_log *l, struct mon_stream *s);

/* state.c: written to a temp file then renamed, so readers never see half a file. */
int mon_state_write(const struct mon *m);

/* restart.c */
int mon_restart_parse(struct mon_restart *r, const char *s);
/* Whether to restart after an exit with this code; `stopped` = a stop was requested. */
bool mon_restart_should(const struct mon_restart *r, int exit_code, int restart_count, bool stopped);
/* Returns the delay to wait now and doubles the next one (capped). ran_ms resets the back-off after a long run. */
int64_t mon_restart_backoff(struct mon_restart *r, int64_t ran_ms);

/* runtime.c: runs the OCI runtime binary with runc's command line. */
/* Spawns `runtime --root R <args…>` with the given stdio (−1 = /dev/null); returns pid or -1. */
pid_t mon_runtime_spawn(const struct mon *m, char *const args[], int in_fd, int out_fd, int err_fd);
/* Runs and waits; returns the exit status (wait status decoded) or -1. errbuf gets stderr's first line. */
int mon_runtime_run(const struct mon *m, char *const args[], char *errbuf, size_t errcap);
/* create + start; fills m->st.pid. Returns 0 or -1 with m->st.error set. */
int mon_container_start(struct mon *m);
void mon_container_delete(struct mon *m, bool force);

/* stdio.c */
/* Pipes (or the console socket) for one run; *child_in is -1 (= /dev/null) unless --stdin-open. */
int mon_stdio_prepare(struct mon *m, int *child_in, int *child_out, int *child_err);
/* After create: for tty, receives the pty master from the console socket. */
int mon_stdio_after_create(struct mon *m);

/* oom.c */
void mon_oom_locate(struct mon *m);
bool mon_oom_check(struct mon *m);

/* health.c */
void mon_health_schedule_first(struct mon *m);
void mon_health_tick(struct mon *m, int64_t now);
void mon_health_readable(struct mon *m);
/* Returns true when pid was the probe. */
bool mon_health_reaped(struct mon *m, pid_t pid, int status);
void mon_health_cancel(struct mon *m);

/* guard.c: a child that runs `runtime delete --force` if the monitor dies without saying goodbye. */
int mon_guard_start(struct mon *m);
/* What the guard does once the monitor is gone (also `tsstack-monitor --guard-cleanup ARGS…`). */
void mon_guard_cleanup(struct mon *m);
void mon_guard_release(struct mon *m);

/* ctl.c: a unix stream socket taking one-line commands: "stop [ms]", "kill SIG".
 * Clients are served from the main loop (non-blocking), so a slow client never stalls the monitor. */
int mon_ctl_listen(struct mon *m);
void mon_ctl_accept(struct mon *m);
/* Adds the clients' fds to p (returns how many) and, after poll, serves them. */
int mon_ctl_pollfds(struct mon *m, struct pollfd *p);
void mon_ctl_serve(struct mon *m, const struct pollfd *p, int n, int64_t now);
int64_t mon_ctl_next_deadline(const struct mon *m);
void mon_ctl_close(struct mon *m);

/* main.c */
void mon_request_stop(struct mon *m, int64_t timeout_ms);

#endif
