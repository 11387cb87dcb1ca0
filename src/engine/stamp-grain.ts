// Whether a file's stamps, once looked at, show every later change: Linux's multigrain
// timestamps (6.13 and later, on ext4, XFS, Btrfs and tmpfs). Before them, a change is
// stamped from the coarse clock, so a second change within the same tick (1–10 ms) leaves the
// stamps as they were, and a stamp that recent cannot vouch for the file (the racy window,
// fingerprint.ts). With them, a stat that reads the ctime marks the inode, and its next change
// is stamped from the fine clock, later than what was read; coarse stamps never go below the
// newest fine one handed out (the kernel's floor). So what was looked at cannot change unseen,
// and nothing need wait out a window.
//
// Decided per file system (statfs's type), and for the ext family by the mount's own type:
// ext2 file systems can be mounted by the ext2 driver, which stamps coarsely. Anything else
// (overlayfs, NFS, FUSE, an older kernel) keeps the window.

import { readFileSync, statfsSync, statSync } from 'node:fs';
import { release } from 'node:os';

const EXT = 0xef53;
const XFS = 0x58465342;
const BTRFS = 0x9123683e;
const TMPFS = 0x01021994;

/** 6.13 and later: the release that merged multigrain timestamps for these file systems. */
export function multigrainKernel(rel: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 6 || (major === 6 && minor >= 13);
}

/** For a kernel with them: does a file system of statfs type `fsType` (and mount type `mountType`, for the ext family) stamp finely once looked at. */
export function multigrainFs(fsType: number, mountType: () => string | undefined): boolean {
  if (fsType === XFS || fsType === BTRFS || fsType === TMPFS) return true;
  return fsType === EXT && mountType() === 'ext4';
}

/** The type /proc/self/mountinfo gives the mount of device `dev` (a stat's st_dev); undefined when not found. */
export function mountTypeOf(mountinfo: string, dev: number): string | undefined {
  // st_dev as glibc encodes it: minor's low 8 bits, major's 12, then the rest of each
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff & 0xfffff);
  const want = `${major}:${minor}`;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f[2] !== want) continue;
    const dash = f.indexOf('-', 6);
    if (dash > 0) return f[dash + 1];
  }
  return undefined;
}

const known = new Map<string, boolean>();

/** Whether `path`'s file system, on this kernel, stamps changes after a look finely (see the top). False when anything is in doubt. */
export function stampsShowLaterChanges(path: string): boolean {
  let fine = known.get(path);
  if (fine !== undefined) return fine;
  try {
    fine = multigrainKernel(release()) && multigrainFs(Number(statfsSync(path).type), () => mountTypeOf(readFileSync('/proc/self/mountinfo', 'utf8'), statSync(path).dev));
  } catch {
    return false; // not there yet, say: asked again next time
  }
  known.set(path, fine);
  return fine;
}
