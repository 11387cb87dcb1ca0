/* Terminals: a pty made inside the container, its master passed over a unix
 * socket with SCM_RIGHTS (runc's --console-socket protocol). */
#ifndef RT_CONSOLE_H
#define RT_CONSOLE_H
#include <stdbool.h>
#include "tsutil.h"

/* Connects to the console socket path; returns the fd. */
int console_connect(const char *path, err_t *e);
/* Opens /dev/ptmx (the caller's mount namespace), sends the master over sock,
 * makes the slave the controlling terminal and stdio. Call after setsid().
 * rows/cols (when non-zero) set the initial window size. With bind_console,
 * the slave is also bound over /dev/console (for a container's init, as runc does). */
int console_setup(int sock, unsigned short rows, unsigned short cols, bool bind_console, err_t *e);
/* Sends fd with the text `name` as the message (SCM_RIGHTS); also the runtime's other fd passing. */
int console_send_fd(int sock, int fd, const char *name, err_t *e);
/* Receives one fd; returns it or < 0. */
int console_recv_fd(int sock, err_t *e);
/* Copies between our stdio and the pty master until the master hangs up or
 * *stop becomes non-zero. Puts a tty stdin in raw mode meanwhile. */
void console_proxy(int master, volatile int *stop);
#endif
