// The few syscalls Node lacks that layer unpacking and packing need (mknod,
// l*xattr), through koffi on libc. Loaded lazily: only unpack/pack pay for it.
// Every function throws an Error with the errno name and the path.

import { constants as osc } from 'node:os';
import { koffi as loadKoffi } from '../../util/koffi.js';

interface Libc {
  mknod: (path: string, mode: number, dev: bigint) => number;
  lsetxattr: (path: string, name: string, value: Buffer, size: number, flags: number) => number;
  lgetxattr: (path: string, name: string, value: Buffer | null, size: number) => number;
  llistxattr: (path: string, list: Buffer | null, size: number) => number;
  errno: () => number;
}

let libc: Libc | undefined;

function lib(): Libc {
  if (libc) return libc;
  const koffi = loadKoffi();
  const l = koffi.load('libc.so.6');
  libc = {
    mknod: l.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    lsetxattr: l.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
    lgetxattr: l.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
    llistxattr: l.func('intptr_t llistxattr(const char *path, _Out_ char *list, size_t size)'),
    errno: () => koffi.errno() as number,
  };
  return libc;
}

export const errnoName = (n: number): string => Object.entries(osc.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;

/** Throws an Error like Node's fs errors (code = errno name) naming the call and the path. */
export function fail(op: string, path: string, n: number): never {
  const e = new Error(`${op} ${path}: ${errnoName(n)}`) as NodeJS.ErrnoException;
  e.code = errnoName(n);
  e.errno = n;
  throw e;
}

export function makedev(major: number, minor: number): bigint {
  const M = BigInt(major), m = BigInt(minor);
  return ((M & 0xfffff000n) << 32n) | ((M & 0xfffn) << 8n) | ((m & 0xffffff00n) << 12n) | (m & 0xffn);
}

export function majorOf(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 32n) & 0xfffff000n) | ((d >> 8n) & 0xfffn));
}

export function minorOf(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 12n) & 0xffffff00n) | (d & 0xffn));
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** mknod(2); `type` is S_IFCHR, S_IFBLK or S_IFIFO. */
export function mknod(path: string, type: number, perm: number, major = 0, minor = 0): void {
  const c = lib();
  if (c.mknod(path, type | (perm & 0o7777), makedev(major, minor)) !== 0) fail('mknod', path, c.errno());
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  const c = lib();
  if (c.lsetxattr(path, name, value, value.length, 0) !== 0) fail(`setxattr ${name}`, path, c.errno());
}

/** All extended attributes of a path (not following symlinks); empty when unsupported. */
export function lgetxattrs(path: string): Record<string, Buffer> {
  const c = lib();
  const out: Record<string, Buffer> = {};
  let n = c.llistxattr(path, null, 0);
  if (n < 0) {
    const e = c.errno();
    if (e === osc.errno.ENOTSUP) return out;
    fail('listxattr', path, e);
  }
  if (n === 0) return out;
  const list = Buffer.alloc(n);
  n = c.llistxattr(path, list, n);
  if (n < 0) fail('listxattr', path, c.errno());
  for (const name of list.subarray(0, n).toString('utf8').split('\0').filter(Boolean)) {
    const size = c.lgetxattr(path, name, null, 0);
    if (size < 0) continue;
    const buf = Buffer.alloc(size);
    const got = c.lgetxattr(path, name, buf, size);
    if (got >= 0) out[name] = buf.subarray(0, got);
  }
  return out;
}
