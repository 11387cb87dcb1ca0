// Resolving a path inside a container's root the way the container sees it:
// symlinks are followed relative to the root (an absolute link target or `..`
// never leaves it), like a chroot would. Used by `copy`.

import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { join, posix } from 'node:path';

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

/**
 * Copies the host tree `src` to `dest` inside `root`, resolving every destination path inside the root,
 * so a symlink the container made (`/app -> /`) cannot redirect a write onto the host. Existing
 * files are replaced; a symlink at a file's place is replaced, not written through.
 */
export function copyIntoRoot(src: string, root: string, dest: string): void {
  const st = lstatSync(src);
  if (st.isDirectory()) {
    const dir = resolveInRoot(root, dest);
    let exists = false;
    try { exists = statSync(dir).isDirectory(); } catch { /* absent */ }
    if (!exists) {
      rmSync(dir, { force: true });
      mkdirSync(dir, { recursive: true, mode: st.mode & 0o7777 }); // every existing component was resolved inside the root
    }
    for (const e of readdirSync(src).sort()) copyIntoRoot(join(src, e), root, posix.join(dest, e));
    return;
  }
  const target = resolveInRoot(root, dest, false);
  try {
    const t = lstatSync(target);
    if (t.isSymbolicLink() || !t.isFile()) rmSync(target, { recursive: true, force: true });
  } catch { /* absent */ }
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), target);
  } else if (st.isFile()) {
    copyFileSync(src, target);
    chmodSync(target, st.mode & 0o7777);
    utimesSync(target, st.atime, st.mtime);
  }
  // sockets, fifos and devices are skipped, as `docker cp` does for what it cannot archive meaningfully
}
