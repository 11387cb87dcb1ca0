// umount2(2) through koffi, so removing a container does not spawn umount(8):
// a fork+exec from a large Node process costs ~5 ms of CPU, and a `down` does
// one per container, all at once. The call runs on libuv's thread pool (an
// overlay unmount syncs its upper file system: milliseconds the event loop
// should not wait). Loaded on first use.

import { resolve as resolvePath } from 'node:path';
import { mountPoints } from '../image/mount.js';
import { koffi as loadKoffi } from '../../util/koffi.js';
import { ffiAsync } from '../../util/ffi-async.js';

type Umount2 = ((target: string, flags: number) => number) & {
  async: (target: string, flags: number, cb: (err: unknown, res: number) => void) => void;
};
let umount2: Umount2 | undefined | null;

/**
 * Unmounts `target` if it is a mount point; resolves true when it did. Never rejects: any failure
 * (not mounted, busy, no koffi) leaves the caller's own unmount (images.unmountRootfs) to do it or say why.
 */
function load(): Umount2 | null {
  if (umount2 === undefined) {
    try {
      const koffi = loadKoffi();
      umount2 = koffi.load('libc.so.6').func('int umount2(const char *target, int flags)') as Umount2;
    } catch {
      umount2 = null;
    }
  }
  return umount2;
}

export function tryUnmount(target: string): Promise<boolean> {
  const f = load();
  if (!f) return Promise.resolve(false);
  return ffiAsync<number>((done) => f.async(target, 0, done)).then((res) => res === 0, () => false);
}

const MNT_DETACH = 2;

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string): string[] {
  const base = resolvePath(dir);
  return [...mountPoints()].filter((m) => m === base || m.startsWith(base + '/')).sort().reverse();
}

/**
 * Unmounts everything at or below `dir` (lazily when busy), found in /proc/self/mountinfo rather than in
 * any record (a killed create may have mounted without recording it), so that the directory can then be
 * removed without deleting through a mount point into what is mounted there. Returns what is still mounted.
 */
export function unmountTree(dir: string): string[] {
  const mounted = mountsUnder(dir);
  const f = load();
  if (!f || !mounted.length) return mounted; // nothing there: one read of the mount table, not two
  for (const m of mounted) if (f(m, 0) !== 0) f(m, MNT_DETACH);
  return mountsUnder(dir);
}
