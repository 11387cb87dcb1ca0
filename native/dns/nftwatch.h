/* Follows the nftables ruleset of the server's network namespace (see nftwatch.c). */
#pragma once
#include <stdint.h>

/* Subscribes to nftables changes and writes `path` once; the socket is added to `epfd` as
   `kind`. Returns 0, or -1 (errno set) when the kernel does not let us follow them. */
int nftwatch_init(int epfd, uint32_t kind, const char *path);
/* Drains what the kernel reported and rewrites the file (one write per wake-up). */
void nftwatch_on_readable(void);
void nftwatch_close(void);
