// Liveness of containers, from their monitors' state files (the records' `state` lines).
//
// Why the server watches the state files instead of being told: tsstack is daemonless,
// and once `tsstack up` has exited only the per-container monitors and this server are
// left. Every monitor already replaces its state.json by rename at each transition
// (running, restarting during a back-off, running again, exited), so an inotify watch on
// the file's directory hears each change with no new writer and no protocol between
// monitor and server; it works as well for monitors started before a records change and
// for attached runs (whose CLI writes the same file). The outcome is cached in the
// records (rec_state.up) and re-read only on an event: queries never touch a file.
// A missing or unreadable file counts as running, so records without `state` lines, or
// a container whose monitor has written nothing yet, behave as before.
//
// A monitor that dies without writing (SIGKILL, OOM) takes its container with it
// (native/monitor/guard.c) but leaves "running" in its file; so while a file says
// running, the server also holds a pidfd of the `monitorPid` it names and goes quiet
// when that process ends, as `tsstack ps` then reports the container dead.
#ifndef TSSTACK_DNS_LIVE_H
#define TSSTACK_DNS_LIVE_H
#include <stddef.h>
#include <stdint.h>
#include "records.h"

/* Makes the inotify instance; epoll data.u64 = kind << 32 | fd for it (`kind_files`) and
   for each monitor's pidfd (`kind_pid`). On failure (-1) every container is answered,
   as without state lines: a file read once and never again could leave one quiet. */
int live_init(int epfd, uint32_t kind_files, uint32_t kind_pid);
/* Watches the directories of r's state files (dropping the watches r no longer needs),
   reads each file once and watches the monitors that say running. A state of `old` (the
   records in use until now, or NULL) with the same name and file, watched all along, is
   taken over without a read: events it has not seen yet are still queued for `r`. Call
   with the records about to be used, then live_release the old ones. */
void live_attach(struct records *r, struct records *old);
/* Closes the pidfds held for r's states (before records_free). */
void live_release(struct records *r);
/* Reads pending inotify events and re-reads the state files they name. Returns how many
   containers changed between answered and quiet. */
int live_on_files(struct records *r);
/* pidfd `fd` became readable: its monitor has ended, its container goes quiet. Returns 1
   when a container changed. A stale event (the fd closed and reused meanwhile) is ignored. */
int live_on_pid(struct records *r, int fd);
void live_close(void);

/* Pure: whether a state file's text lets its container be answered: 0 only for a JSON
   object whose "status" is a string other than "running". *monitor_pid (when not NULL)
   gets its positive integer "monitorPid", else 0. */
int live_status_up(const char *text, size_t len, long *monitor_pid);

#endif
