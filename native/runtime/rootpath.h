/* Resolving a container path inside the root filesystem before anything is
 * mounted there. */
#ifndef RT_ROOTPATH_H
#define RT_ROOTPATH_H
#include "tsutil.h"

/* Resolves `path` (absolute, container view) below `root` following symlinks
 * as the container would see them: absolute links restart at `root`. A ".."
 * that climbs above the root — in `path` itself or in a relative symlink — is
 * refused (the error names the path and the link). Components that do not
 * exist yet are kept as written. *out is "root/clean/path" (caller frees). */
int rootpath_resolve(const char *root, const char *path, char **out, err_t *e);
#endif
