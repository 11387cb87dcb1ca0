// The host's resolvers, from a resolv.conf(5) file.
#ifndef TSSTACK_DNS_RESOLVCONF_H
#define TSSTACK_DNS_RESOLVCONF_H
#include <stddef.h>
#include "records.h"

/* Reads `nameserver` lines (port 53) into out[0..max). Returns the count (0 if unreadable). */
size_t resolvconf_read(const char *path, struct rec_upstream *out, size_t max);

#endif
