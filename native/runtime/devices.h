/* /dev in the container: standard nodes, linux.devices, and the symlinks. */
#ifndef RT_DEVICES_H
#define RT_DEVICES_H
#include <stdbool.h>
#include "spec.h"

/* Runs before pivot (paths below s->root). dev_tmpfs: /dev is a fresh mount we
 * own, so standard nodes and links are made; devpts: /dev/ptmx -> pts/ptmx. */
int devices_setup(const struct spec *s, bool dev_tmpfs, bool devpts, err_t *e);
#endif
