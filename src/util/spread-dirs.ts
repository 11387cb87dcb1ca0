// Directories whose subdirectories ext4 spreads over its block groups (the "top of a directory
// hierarchy" attribute, chattr +T, FS_TOPDIR_FL), instead of placing each near its parent.
//
// Why: ext4 without a journal (this machine's root file system) skips every inode deleted in the
// last minutes when it allocates one, checking each from the start of the block group: after a
// `down`, and after other tools' deletions nearby (Docker's, in the benchmark), every file and
// directory a create makes costs 0.3–0.8 ms of CPU. Each container's directory placed in a group
// of its own choosing (ext4's Orlov allocator, as for home directories) meets few of them: an
// `up` of 20 alternating with other work took ~23 % less time (docs/performance.md). Elsewhere
// (a journal, another file system) the attribute changes nothing that matters; where it cannot be
// set, nothing happens.

import { koffi } from './koffi.js';

const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_TOPDIR_FL = 0x00020000;

interface Calls {
  open: (path: string, flags: number) => number;
  ioctl: (fd: number, req: number, flags: number[]) => number;
  close: (fd: number) => number;
}
let calls: Calls | undefined;

function lib(): Calls {
  if (calls) return calls;
  const l = koffi().load('libc.so.6');
  calls = {
    open: l.func('int open(const char *path, int flags)'),
    // the kernel reads and writes an int here, whatever the request's encoded size says
    ioctl: l.func('int ioctl(int fd, unsigned long req, _Inout_ int *flags)'),
    close: l.func('int close(int fd)'),
  };
  return calls;
}

const O_RDONLY_DIRECTORY_CLOEXEC = 0o200000 | 0o2000000;

/**
 * Whether `dir` has the attribute, setting it first when `set`; undefined where the file system has no
 * such flags (or `dir` cannot be opened).
 */
function topdir(dir: string, set: boolean): boolean | undefined {
  const c = lib();
  const fd = c.open(dir, O_RDONLY_DIRECTORY_CLOEXEC);
  if (fd < 0) return undefined;
  try {
    const flags = [0];
    if (c.ioctl(fd, FS_IOC_GETFLAGS, flags) < 0) return undefined;
    if (flags[0]! & FS_TOPDIR_FL || !set) return (flags[0]! & FS_TOPDIR_FL) !== 0;
    flags[0] = flags[0]! | FS_TOPDIR_FL;
    return c.ioctl(fd, FS_IOC_SETFLAGS, flags) === 0;
  } finally {
    c.close(fd);
  }
}

/** Marks `dir` so that its new subdirectories are spread over the file system (best effort: false when not). */
export function spreadSubdirs(dir: string): boolean {
  try {
    return topdir(dir, true) === true;
  } catch {
    return false; // koffi or libc not to be had
  }
}

/** Whether `dir` has the attribute (for tests). */
export function spreadsSubdirs(dir: string): boolean | undefined {
  return topdir(dir, false);
}
