// File operations relative to directory fds, for paths a container controls.
//
// A path inside a container is resolved and opened in one step, openat2(2) with
// RESOLVE_IN_ROOT against an fd of the container's root: a symlink (absolute or
// `..`) the container swaps in while we work is followed inside that root, never
// on the host. Everything after that is done on fds or on one name in a directory
// fd without following it (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, renameat), so no
// path is ever checked and then used. Calls Node lacks go through koffi on libc.
// openat2 needs Linux 5.6; older kernels get a HOST error (see needOpenat2).

import { closeSync, constants as fsc, readSync, writeSync } from 'node:fs';
import { constants as osc } from 'node:os';
import { fail } from '../image/sys.js';
import { koffi as loadKoffi } from '../../util/koffi.js';

export const O_PATH = 0o10000000; // same on x86-64 and arm64; not in fs.constants
export const O_CLOEXEC = 0o2000000;
export const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = fsc;

export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const SYS_openat2 = 437; // one number on every architecture (added after the syscall tables were unified)

interface Libc {
  openat2: (nr: number, dirfd: number, path: string, how: Buffer, size: number) => number;
  mkdirat: (dirfd: number, path: string, mode: number) => number;
  symlinkat: (target: string, dirfd: number, path: string) => number;
  mknodat: (dirfd: number, path: string, mode: number, dev: bigint) => number;
  fchownat: (dirfd: number, path: string, uid: number, gid: number, flags: number) => number;
  renameat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string) => number;
  unlinkat: (dirfd: number, path: string, flags: number) => number;
  readlinkat: (dirfd: number, path: string, buf: Buffer, size: number) => number;
  linkat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;
  utimensat: (dirfd: number, path: string, times: Buffer, flags: number) => number;
  copy_file_range: (fdIn: number, offIn: null, fdOut: number, offOut: null, len: number, flags: number) => number;
  errno: () => number;
}

let libc: Libc | undefined;

function lib(): Libc {
  if (libc) return libc;
  const koffi = loadKoffi();
  const l = koffi.load('libc.so.6');
  libc = {
    // fixed arguments for the variadic syscall(): on x86-64 and arm64 integers and pointers pass the same way
    openat2: l.func('long syscall(long nr, int dirfd, const char *path, void *how, size_t size)'),
    mkdirat: l.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
    symlinkat: l.func('int symlinkat(const char *target, int dirfd, const char *path)'),
    mknodat: l.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
    fchownat: l.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
    renameat: l.func('int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)'),
    unlinkat: l.func('int unlinkat(int dirfd, const char *path, int flags)'),
    readlinkat: l.func('intptr_t readlinkat(int dirfd, const char *path, _Out_ void *buf, size_t size)'),
    linkat: l.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
    utimensat: l.func('int utimensat(int dirfd, const char *path, const void *times, int flags)'),
    copy_file_range: l.func('intptr_t copy_file_range(int fdIn, void *offIn, int fdOut, void *offOut, size_t len, unsigned int flags)'),
    errno: () => koffi.errno() as number,
  };
  return libc;
}

export const isErr = (e: unknown, ...codes: string[]): boolean => codes.includes((e as { code?: string })?.code ?? '');

let haveOpenat2: boolean | undefined;

/** Whether the kernel has openat2 (Linux ≥ 5.6); tested once. */
export function openat2Supported(): boolean {
  if (haveOpenat2 === undefined) {
    const how = Buffer.alloc(24);
    how.writeBigUInt64LE(BigInt(O_PATH | O_CLOEXEC), 0);
    const c = lib();
    const fd = c.openat2(SYS_openat2, -100, '/', how, 24);
    haveOpenat2 = !(fd < 0 && c.errno() === osc.errno.ENOSYS);
    if (fd >= 0) closeFd(fd);
  }
  return haveOpenat2;
}

/** openat2(2): `path` relative to `dirfd` under the RESOLVE_* rules in `resolve`. Retries EAGAIN (a rename raced a `..`). */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  const c = lib();
  const how = Buffer.alloc(24); // struct open_how { u64 flags, mode, resolve }
  how.writeBigUInt64LE(BigInt(flags | O_CLOEXEC), 0);
  how.writeBigUInt64LE(BigInt((flags & O_CREAT) ? mode : 0), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  for (let i = 0; ; i++) {
    const fd = c.openat2(SYS_openat2, dirfd, path, how, 24);
    if (fd >= 0) return fd;
    const n = c.errno();
    if (n === osc.errno.EAGAIN && i < 64) continue;
    fail('open', path, n);
  }
}

/**
 * `path` (absolute or relative, as the container sees it) inside the root `rootFd`; O_PATH unless `flags`
 * say more. Mounts are crossed (no RESOLVE_NO_XDEV): the container's volumes and binds are part of what
 * it sees, and `docker cp` copies them too; magic links (/proc/<pid>/root…) are never followed.
 */
export function openInRoot(rootFd: number, path: string, follow: boolean, flags = O_PATH): number {
  return openat2(rootFd, path, flags | (follow ? 0 : O_NOFOLLOW), RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/** One entry `name` of directory `dirfd`, never following a link (a link itself is opened with O_PATH). */
export function openChild(dirfd: number, name: string, flags = O_PATH, mode = 0): number {
  return openat2(dirfd, name, flags | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, mode);
}

/** A path the kernel resolves to exactly what `fd` refers to (a magic link), for Node calls that take paths. */
export const fdPath = (fd: number): string => `/proc/self/fd/${fd}`;

export function closeFd(fd: number): void {
  try { closeSync(fd); } catch { /* already closed */ }
}

export function mkdirat(dirfd: number, name: string, mode: number): void {
  const c = lib();
  if (c.mkdirat(dirfd, name, mode) !== 0) fail('mkdir', name, c.errno());
}

export function symlinkat(target: string, dirfd: number, name: string): void {
  const c = lib();
  if (c.symlinkat(target, dirfd, name) !== 0) fail('symlink', name, c.errno());
}

export function mknodat(dirfd: number, name: string, mode: number, dev: bigint): void {
  const c = lib();
  if (c.mknodat(dirfd, name, mode, dev) !== 0) fail('mknod', name, c.errno());
}

/** chown of the entry `name` itself (a link is not followed); `name` '' means `dirfd` itself. */
export function lchownat(dirfd: number, name: string, uid: number, gid: number): void {
  const c = lib();
  if (c.fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW | (name === '' ? AT_EMPTY_PATH : 0)) !== 0) fail('chown', name, c.errno());
}

/** Replaces entry `to` with entry `from` (both in `dirfd`) atomically; neither is followed. */
export function renameat(dirfd: number, from: string, to: string): void {
  const c = lib();
  if (c.renameat(dirfd, from, dirfd, to) !== 0) fail('rename', to, c.errno());
}

export function unlinkat(dirfd: number, name: string, dir = false): void {
  const c = lib();
  if (c.unlinkat(dirfd, name, dir ? 0x200 : 0) !== 0) fail('unlink', name, c.errno());
}

/** The target of the symlink `fd` refers to (opened O_PATH|O_NOFOLLOW). */
export function readlinkFd(fd: number): string {
  const c = lib();
  const buf = Buffer.alloc(4097);
  const n = c.readlinkat(fd, '', buf, buf.length);
  if (n < 0) fail('readlink', fdPath(fd), c.errno());
  if (n >= buf.length) fail('readlink', fdPath(fd), osc.errno.ENAMETOOLONG);
  return buf.subarray(0, n).toString();
}

/** A new hard link `name` in `dirfd` to the file `fd` refers to. */
export function linkFd(fd: number, dirfd: number, name: string): void {
  const c = lib();
  if (c.linkat(fd, '', dirfd, name, AT_EMPTY_PATH) !== 0) fail('link', name, c.errno());
}

/** Access and modification times (ms since the epoch) of entry `name` itself ('' = `dirfd` itself). */
export function lutimesat(dirfd: number, name: string, atimeMs: number, mtimeMs: number): void {
  const c = lib();
  const ts = Buffer.alloc(32);
  for (const [i, ms] of [atimeMs, mtimeMs].entries()) {
    const sec = Math.floor(ms / 1000);
    ts.writeBigInt64LE(BigInt(sec), i * 16);
    ts.writeBigInt64LE(BigInt(Math.round((ms - sec * 1000) * 1e6)), i * 16 + 8);
  }
  if (c.utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW | (name === '' ? AT_EMPTY_PATH : 0)) !== 0) fail('utimes', name, c.errno());
}

/**
 * Copies all of `fromFd` (read from its start) to `toFd`: copy_file_range (in the kernel, and a
 * reflink where the filesystem can), else read/write. Both fds are plain files.
 */
export function copyFd(fromFd: number, toFd: number): void {
  const c = lib();
  for (;;) {
    const n = c.copy_file_range(fromFd, null, toFd, null, 1 << 30, 0);
    if (n === 0) return;
    if (n > 0) continue;
    const e = c.errno();
    if (e === osc.errno.EXDEV || e === osc.errno.EINVAL || e === osc.errno.ENOSYS || e === osc.errno.EOPNOTSUPP) break;
    fail('copy', fdPath(toFd), e);
  }
  // the position both fds reached is where plain read/write goes on (copy_file_range moved them together)
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = readSync(fromFd, buf, 0, buf.length, null);
    if (n === 0) return;
    for (let off = 0; off < n;) off += writeSync(toFd, buf, off, n - off);
  }
}
