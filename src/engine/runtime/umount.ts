// umount2(2) through koffi, so removing a container does not spawn umount(8):
// a fork+exec from a large Node process costs ~5 ms of CPU, and a `down` does
// one per container, all at once. Loaded on first use.

import { createRequire } from 'node:module';

let umount2: ((target: string, flags: number) => number) | undefined | null;

/**
 * Unmounts `target` if it is a mount point; true when it did. Never throws: any failure (not
 * mounted, busy, no koffi) leaves the caller's own unmount (images.unmountRootfs) to do it or say why.
 */
export function tryUnmount(target: string): boolean {
  if (umount2 === undefined) {
    try {
      const koffi = createRequire(import.meta.url)('koffi');
      umount2 = koffi.load('libc.so.6').func('int umount2(const char *target, int flags)') as (t: string, f: number) => number;
    } catch {
      umount2 = null;
    }
  }
  return umount2 ? umount2(target, 0) === 0 : false;
}
