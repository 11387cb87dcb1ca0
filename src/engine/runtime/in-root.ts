// Resolving a path inside a container's root the way the container sees it:
// symlinks are followed relative to the root (an absolute link target or `..`
// never leaves it), like a chroot would. Used by `copy`.

import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Host path of `path` (absolute, as seen in the container) under `root`. The last component is not required to exist. */
export function resolveInRoot(root: string, path: string, followLast = true): string {
  const parts = path.split('/').filter((p) => p && p !== '.');
  const out: string[] = [];
  let hops = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === '..') { out.pop(); continue; }
    const candidate = join(root, ...out, p);
    let st;
    try { st = lstatSync(candidate); } catch { out.push(p); continue; }
    if (st.isSymbolicLink() && (followLast || parts.length > 0)) {
      if (++hops > 40) throw new Error(`too many levels of symbolic links in ${path}`);
      const target = readlinkSync(candidate);
      if (target.startsWith('/')) out.length = 0;
      parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    out.push(p);
  }
  return join(root, ...out);
}
