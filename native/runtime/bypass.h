/* Rootless published ports: hands a container's bind(2) and connect(2) on IP
 * sockets to tsstack-portd (native/portd), which serves published ports from the
 * host's network namespace. Only when the bundle's annotations name portd's socket. */
#ifndef RT_BYPASS_H
#define RT_BYPASS_H
#include "spec.h"
#include "tsutil.h"

#define BYPASS_SOCKET_ANNOTATION "org.tsstack.portd.socket"
#define BYPASS_META_ANNOTATION "org.tsstack.portd.meta"

/* Connects to portd while its socket is still reachable (before pivot_root); *fd = -1 when not asked for. */
int bypass_open(const struct spec *s, int *fd, err_t *e);
/* Loads the notifying filter, sends its listener and the metadata over fd, waits for portd's
 * acknowledgement, closes fd. Needs CAP_SYS_ADMIN in the user namespace or no_new_privs. */
int bypass_install(int fd, const struct spec *s, err_t *e);
#endif
