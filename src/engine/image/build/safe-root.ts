// Reading a directory tree that someone else controls (a build context, a
// stage's root) without ever leaving it. The root is held open by fd; a source
// path is resolved by the kernel with openat2(RESOLVE_IN_ROOT), so its
// symlinks are followed as if the root were `/` (what BuildKit does for a
// COPY source); every later open below a resolved path uses
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so a link met during a walk is only
// ever read as a link, and one swapped in while the tree is read makes the
// open fail (ELOOP/EXDEV) instead of following it. Names are looked up and
// lstat'ed through a pinned directory fd (`/proc/self/fd/N/name`), never
// through a path from the root again. Consumers that need a path (copyFile,
// a bind mount, a decompressor) get `/proc/<pid>/fd/N`, which reopens the very
// object the fd holds.
//
// Most lookups meet no symlink at all, and for those the kernel's answer is
// had without the FFI openat2 needs (loading it costs a cached build ~10 ms):
// the path is walked one component at a time from a held directory fd
// (`/proc/self/fd/N/name`, i.e. openat(N, name)), each opened O_PATH|O_NOFOLLOW
// and checked by fstat, the last one with O_NOFOLLOW added. A link met on the
// way is ELOOP for a walk below a resolved path, exactly as
// RESOLVE_NO_SYMLINKS says; for resolve(), whose links are to be followed
// inside the root, the lookup is handed to openat2(RESOLVE_IN_ROOT) whole.

import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { openat2 as openat2At } from '../../runtime/root-fs.js';
import { errnoName } from '../sys.js';
import { koffi as loadKoffi } from '../../../util/koffi.js';

const O_PATH = 0o10000000;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_BENEATH = 0x08;
const RESOLVE_IN_ROOT = 0x10;

interface Sys {
  mount: (src: string, target: string, fstype: string | null, flags: number, data: null) => number;
  umount2: (target: string, flags: number) => number;
  errno: () => number;
}
let sys: Sys | undefined;

function lib(): Sys {
  if (sys) return sys;
  const koffi = loadKoffi();
  const l = koffi.load('libc.so.6');
  sys = {
    mount: l.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data)'),
    umount2: l.func('int umount2(const char *target, int flags)'),
    errno: () => koffi.errno() as number,
  };
  return sys;
}


/** An openat2/mount failure: `code` is the errno name (ENOENT, ELOOP, EXDEV…). */
export class SafeRootError extends Error {
  constructor(readonly op: string, readonly path: string, readonly code: string) {
    super(`${op} ${path}: ${code}`);
  }
  /** A symlink stood where a resolved path had none: the tree changed while it was read. */
  get changed(): boolean { return this.code === 'ELOOP' || this.code === 'EXDEV'; }
}

/** openat2 (runtime/root-fs.ts: the one wrapper of the project) with its failure as a SafeRootError. */
function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  try {
    return openat2At(dirfd, path === '' ? '.' : path, flags, resolve);
  } catch (e) {
    throw new SafeRootError('open', path || '.', (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
}

/** openat(dirfd, name, flags), as Node can: through the /proc path of the fd (the same lookup by the kernel). */
function openAt(dirfd: number, name: string, flags: number): number {
  return openSync(`/proc/self/fd/${dirfd}/${name}`, flags);
}

/** Components of a clean root-relative path; undefined when one is empty, `.` or `..` (left to openat2). */
function components(path: string): string[] | undefined {
  if (path === '') return [];
  const parts = path.split('/');
  return parts.some((p) => p === '' || p === '.' || p === '..') ? undefined : parts;
}

/**
 * Opens the directory `parts` names below `dirfd`, one component at a time, none a link:
 * undefined (and `link.met`) when one is a symlink; the open's errno is thrown otherwise.
 */
function openDirs(dirfd: number, parts: string[], link: { met: boolean }): number | undefined {
  let cur = dirfd;
  try {
    for (const name of parts) {
      const fd = openAt(cur, name, O_PATH | fsc.O_NOFOLLOW);
      if (cur !== dirfd) closeSync(cur);
      cur = fd;
      const st = fstatSync(fd);
      if (st.isSymbolicLink()) { link.met = true; return undefined; }
      if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    const out = cur;
    cur = dirfd;
    return out;
  } finally { if (cur !== dirfd) closeSync(cur); }
}

/** O_PATH fd of what `parts` names below `dirfd` (anything but a link), or undefined (`link.met`) when a link is on the way. */
function openDirsOrFile(dirfd: number, parts: string[], link: { met: boolean }): number | undefined {
  if (parts.length === 0) return openAt(dirfd, '.', O_PATH);
  const dir = openDirs(dirfd, parts.slice(0, -1), link);
  if (dir === undefined) return undefined;
  try {
    const fd = openAt(dir, parts[parts.length - 1]!, O_PATH | fsc.O_NOFOLLOW);
    if (fstatSync(fd).isSymbolicLink()) { closeSync(fd); link.met = true; return undefined; }
    return fd;
  } finally { if (dir !== dirfd) closeSync(dir); }
}

/** Runs a plain open, its failure as the SafeRootError openat2 would give. */
function plain<T>(fn: () => T, path: string): T {
  try { return fn(); } catch (e) {
    if (e instanceof SafeRootError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw e;
    throw new SafeRootError('open', path || '.', code);
  }
}

/** openat2(dirfd, path, flags, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS), by plain opens (see the top). */
function openBeneathPlain(dirfd: number, path: string, flags: number): number {
  const parts = components(path);
  if (parts === undefined) return openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (parts.length === 0) return plain(() => openAt(dirfd, '.', flags), path);
  const link = { met: false };
  const dir = plain(() => openDirs(dirfd, parts.slice(0, -1), link), path);
  if (dir === undefined) throw new SafeRootError('open', path, 'ELOOP');
  const last = parts[parts.length - 1]!;
  try {
    return plain(() => {
      try { return openAt(dir, last, flags | fsc.O_NOFOLLOW); } catch (e) {
        // O_DIRECTORY on a link says ENOTDIR; RESOLVE_NO_SYMLINKS says ELOOP
        if ((e as NodeJS.ErrnoException).code === 'ENOTDIR' && lstatSync(`/proc/self/fd/${dir}/${last}`).isSymbolicLink()) throw Object.assign(new Error('a symlink'), { code: 'ELOOP' });
        throw e;
      }
    }, path);
  } finally { if (dir !== dirfd) closeSync(dir); }
}

const MS_BIND = 4096;
const MNT_DETACH = 2;

/**
 * Bind-mounts what `pinned` (a `/proc/<pid>/fd/N` path) holds onto `target` (an existing file or
 * directory). Not recursive: mounts below the source stay out (a read-only remount covers only the top).
 */
export function bindPinned(pinned: string, target: string): void {
  const c = lib();
  if (c.mount(pinned, target, null, MS_BIND, null) !== 0) throw new SafeRootError('bind-mount', target, errnoName(c.errno()));
}

export function unmountDetached(target: string): void {
  lib().umount2(target, MNT_DETACH);
}

/** One entry of a walk: `path` is root-relative and free of symlinks (as of the walk). */
export interface RootEntry { rel: string; path: string; st: Stats }

export class SafeRoot {
  private fd: number;

  private constructor(readonly dir: string) {
    this.fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  }

  static open(dir: string): SafeRoot { return new SafeRoot(dir); }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Where `/proc` shows an fd of ours to other processes (and to us). */
  private static pinned(fd: number): string { return `/proc/${process.pid}/fd/${fd}`; }

  /**
   * `path` resolved inside the root, symlinks followed as if the root were
   * `/`: the root-relative path of what it names ('' for the root), or
   * undefined when it does not exist.
   */
  resolve(path: string): string | undefined {
    let fd: number | undefined;
    const clean = posix.normalize('/' + path).slice(1).replace(/\/$/, '');
    try {
      // no link on the way: the plain walk is the answer; a link: openat2 follows it inside the root
      const parts = components(clean);
      if (parts !== undefined) fd = plain(() => openDirsOrFile(this.fd, parts, { met: false }), clean);
      fd ??= openat2(this.fd, clean, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    } catch (e) {
      if (e instanceof SafeRootError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return undefined;
      throw e;
    }
    try {
      const real = readlinkSync(`/proc/self/fd/${fd}`);
      const base = readlinkSync(`/proc/self/fd/${this.fd}`);
      if (real === base) return '';
      if (!real.startsWith(base === '/' ? '/' : base + '/')) throw new SafeRootError('resolve', path, 'EXDEV');
      return real.slice(base === '/' ? 1 : base.length + 1);
    } finally { closeSync(fd); }
  }

  /** Opens a resolved path below the root; no symlink may be on the way (nor be the path itself unless `flags` has O_PATH|O_NOFOLLOW). */
  private openBeneath(path: string, flags: number): number {
    return openBeneathPlain(this.fd, path, flags);
  }

  /** Runs `fn` with the parent directory of `path` pinned; `fn` gets `/proc/self/fd/N/<name>`. */
  private inParent<T>(path: string, fn: (p: string) => T): T {
    if (path === '') return fn(`/proc/self/fd/${this.fd}/.`);
    const d = this.openBeneath(posix.dirname(path) === '.' ? '' : posix.dirname(path), O_PATH | fsc.O_DIRECTORY);
    try { return fn(`/proc/self/fd/${d}/${posix.basename(path)}`); } finally { closeSync(d); }
  }

  /** lstat of a resolved path (a link there is reported as a link). */
  lstat(path: string): Stats {
    return this.inParent(path, (p) => lstatSync(p));
  }

  readlink(path: string): string {
    return this.inParent(path, (p) => readlinkSync(p));
  }

  /** Entries of a directory, sorted, with lstat. */
  readdir(path: string): { name: string; st: Stats }[] {
    const d = this.openBeneath(path, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      return readdirSync(`/proc/self/fd/${d}`).sort().map((name) => ({ name, st: lstatSync(`/proc/self/fd/${d}/${name}`) }));
    } finally { closeSync(d); }
  }

  /** Every entry below directory `path` (not itself), parents before children, `rel` relative to it; `skip(rel, st)` prunes. */
  walk(path: string, skip?: (rel: string, st: Stats) => boolean): RootEntry[] {
    const out: RootEntry[] = [];
    const rec = (rel: string): void => {
      for (const { name, st } of this.readdir(rel ? posix.join(path, rel) : path)) {
        const r = rel ? `${rel}/${name}` : name;
        if (skip?.(r, st)) continue;
        out.push({ rel: r, path: path ? `${path}/${r}` : r, st });
        if (st.isDirectory()) rec(r);
      }
    };
    rec('');
    return out;
  }

  /** Opens a resolved regular file (never through a link) and runs `fn` with a path that reopens exactly it. */
  async withFile<T>(path: string, fn: (pinned: string, st: Stats) => Promise<T> | T): Promise<T> {
    const fd = this.openBeneath(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new SafeRootError('open', path, 'EINVAL');
      return await fn(SafeRoot.pinned(fd), st);
    } finally { closeSync(fd); }
  }

  readFile(path: string): string {
    const fd = this.openBeneath(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    try {
      if (!fstatSync(fd).isFile()) throw new SafeRootError('open', path, 'EINVAL');
      return readFileSync(fd, 'utf8');
    } finally { closeSync(fd); }
  }

  /**
   * Removes `path` when `pred(lstat)` agrees: a directory only when empty.
   * Nothing is removed when a symlink stands on the way (it is not followed)
   * or the path is gone. Returns whether something was removed.
   */
  removeIf(path: string, pred: (st: Stats) => boolean): boolean {
    try {
      return this.inParent(path, (p) => {
        const st = lstatSync(p);
        if (!pred(st)) return false;
        if (st.isDirectory()) rmdirSync(p);
        else unlinkSync(p);
        return true;
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (e instanceof SafeRootError || code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') return false;
      throw e;
    }
  }

  /** Holds a resolved path (file or directory, not a link) open; `pinned` names exactly it until `close`. */
  pin(path: string): { pinned: string; st: Stats; close: () => void } {
    const fd = this.openBeneath(path, O_PATH | fsc.O_NOFOLLOW);
    const st = fstatSync(fd);
    return { pinned: SafeRoot.pinned(fd), st, close: () => closeSync(fd) };
  }
}
