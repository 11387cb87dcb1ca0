// Copying between the host and a container's root, both ways, as `docker cp` does,
// while the container may be changing its files under us.
//
// Every container path is opened with openat2(RESOLVE_IN_ROOT) against an fd of the
// container's root (root-fs.ts): its links are followed as the container would follow
// them and never lead out. Below that, each step works on one entry of a directory fd
// without following it: a tree is read through O_PATH fds (a directory is listed
// through its fd, a file is read only once fstat on its fd says it is a regular file,
// so a FIFO or a device is never opened), and written as a new entry under a temporary
// name, given its owner, mode and times through its own fd, then renamed over the
// destination (a link, FIFO or device planted there is replaced, never written through).
// The host side of the copy goes through the same code, so a link raced into the
// destination on the host (a shared /tmp) is not followed either.

import { randomBytes } from '../../util/digest.js';
import { chmodSync, fchmodSync, fchownSync, fstatSync, futimesSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, statfsSync, utimesSync, type Stats } from 'node:fs';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import { procStartTime } from './cgroup-stats.js';
import {
  O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY, O_WRONLY, closeFd, copyFd, fdPath, isErr, lchownat, linkFd, lutimesat,
  mkdirat, mknodat, openChild, openInRoot, openat2, openat2Supported, readlinkFd, renameat, symlinkat, unlinkat,
} from './root-fs.js';

export interface CopyOptions {
  /** `-a`: keep the source's owner (and set-id bits). Else files land owned by root in the container and by the caller on the host. */
  archive?: boolean;
  /** `-L`: follow a link given as the source (links inside a copied tree are always copied as links). */
  followLink?: boolean;
}

export interface CopyReport {
  /** What was left out (sockets; device nodes copied out without -a), with why. */
  skipped: string[];
}

/** Either side of a copy: opens a path of that side. The host resolves paths as usual; a container inside its root. */
export interface Side {
  open(path: string, follow: boolean, flags?: number): number;
  /** The absolute path as this side spells it (`/a/b`, resolved against the cwd on the host). */
  norm(path: string): string;
  dirname(path: string): string;
  basename(path: string): string;
  label(path: string): string;
  /** Skip pseudo filesystems (proc, sysfs, cgroup…) when reading from this side. */
  live?: boolean;
}

export function hostSide(): Side {
  return {
    open: (path, follow, flags = O_PATH) => openat2(-100, path, flags | (follow ? 0 : O_NOFOLLOW), 0),
    norm: (p) => resolve(p),
    dirname, basename,
    label: (p) => p,
  };
}

/** The side of a container whose root is `rootFd` (the caller keeps and closes it); `name` labels messages. */
export function rootSide(rootFd: number, name: string, live: boolean): Side {
  return {
    open: (path, follow, flags = O_PATH) => openInRoot(rootFd, path, follow, flags),
    norm: (p) => posix.normalize('/' + p),
    dirname: posix.dirname, basename: posix.basename,
    label: (p) => `${name}:${p}`,
    live,
  };
}

/** The kernel must resolve inside a root in one step; without openat2 there is no safe way here, so say so. */
export function requireOpenat2(): void {
  if (!openat2Supported()) {
    throw new TsstackError('HOST', 'copying files to or from a container needs openat2(2), which this kernel lacks (Linux 5.6 or later has it)', {
      hint: 'upgrade the kernel, or copy through the container itself (`tsstack exec -T SERVICE tar c PATH > out.tar`)',
    });
  }
}

/**
 * Copies `src` of side `from` to `dest` of side `to` with `docker cp`'s rules: into an existing directory
 * the source keeps its name (`SRC/.` copies what is in it); a missing destination is created (its
 * directory must exist); a directory never replaces a file or the other way round.
 */
export function copyBetween(from: Side, src: string, to: Side, dest: string, direction: 'in' | 'out', opts: CopyOptions = {}): CopyReport {
  requireOpenat2();
  const contents = /(^|\/)\.$/.test(src);
  const srcFollow = !!opts.followLink || src.endsWith('/') || contents;
  const srcNorm = from.norm(src);
  let srcFd: number;
  try {
    srcFd = from.open(srcNorm, srcFollow);
  } catch (e) {
    throw explain(e, from.label(src), 'read');
  }
  const w: Walk = { direction, archive: !!opts.archive, live: !!from.live, skipped: [], links: new Map() };
  const fds: number[] = [srcFd];
  try {
    const st = fstatSync(srcFd);
    if (contents && !st.isDirectory()) throw new TsstackError('CONFLICT', `${from.label(src)} is not a directory`, { hint: 'drop the trailing /. to copy a file' });
    const name = from.basename(srcNorm);
    const destNorm = to.norm(dest);
    let target: { dir: number; name?: string; label: string } | undefined;
    try {
      const d = to.open(destNorm, true);
      fds.push(d);
      if (fstatSync(d).isDirectory()) target = contents || !name ? { dir: d, label: to.label(destNorm) } : { dir: d, name, label: to.label(posix.join(destNorm, name)) };
      else if (st.isDirectory()) throw new TsstackError('CONFLICT', `cannot copy directory ${from.label(src)} onto file ${to.label(dest)}`, { hint: 'name a directory, or a path that does not exist yet' });
      else if (dest.endsWith('/')) throw new TsstackError('CONFLICT', `${to.label(dest)} is not a directory`);
    } catch (e) {
      if (!isErr(e, 'ENOENT')) throw explain(e, to.label(dest), 'write');
      if (dest.endsWith('/')) throw new TsstackError('NOT_FOUND', `destination directory ${to.label(dest)} does not exist`, { hint: 'create it first, or drop the trailing /' });
    }
    if (!target) {
      let parent: number;
      try {
        parent = to.open(to.dirname(destNorm), true, O_PATH | O_DIRECTORY);
      } catch (e) {
        throw isErr(e, 'ENOENT', 'ENOTDIR') ? new TsstackError('NOT_FOUND', `destination directory ${to.label(to.dirname(destNorm))} does not exist`, { hint: 'create it first' }) : explain(e, to.label(dest), 'write');
      }
      fds.push(parent);
      target = { dir: parent, name: to.basename(destNorm), label: to.label(destNorm) };
    }
    const srcLabel = from.label(srcNorm), dstLabel = target.label;
    try {
      if (target.name === undefined) {
        for (const child of listFd(srcFd)) copyChild(w, srcFd, child, target.dir, child, `${srcLabel}/${child}`, `${dstLabel}/${child}`);
      } else {
        copyEntry(w, srcFd, st, target.dir, target.name, srcLabel, dstLabel);
      }
    } catch (e) {
      throw explain(e, (e as { label?: string }).label ?? dstLabel, 'copy');
    }
    return { skipped: w.skipped };
  } finally {
    for (const fd of fds) closeFd(fd);
    for (const fd of w.links.values()) closeFd(fd);
  }
}

interface Walk {
  direction: 'in' | 'out';
  archive: boolean;
  live: boolean;
  skipped: string[];
  /** dev:ino of a source file with more hard links → an fd of its copy, to link the others to. */
  links: Map<string, number>;
}

const MAX_LINK_FDS = 1000;

/** Pseudo filesystems a running container has mounted (f_type): read as empty directories, as they hold no files to copy. */
const PSEUDO_FS = new Set([0x9fa0 /* proc */, 0x62656572 /* sysfs */, 0x27e0eb /* cgroup */, 0x63677270 /* cgroup2 */, 0x1cd1 /* devpts */,
  0x64626720 /* debugfs */, 0x74726163 /* tracefs */, 0x73636673 /* securityfs */, 0xcafe4a11 /* bpf */]);

function listFd(dirFd: number): string[] {
  return readdirSync(fdPath(dirFd)).sort();
}

function copyChild(w: Walk, srcDir: number, name: string, dstDir: number, dstName: string, srcLabel: string, dstLabel: string): void {
  let fd: number;
  try {
    fd = openChild(srcDir, name);
  } catch (e) {
    if (isErr(e, 'ENOENT')) return; // removed while we copy: as a copy a moment later would be
    throw Object.assign(e as Error, { label: srcLabel });
  }
  try {
    copyEntry(w, fd, fstatSync(fd), dstDir, dstName, srcLabel, dstLabel);
  } finally {
    closeFd(fd);
  }
}

/** The owner a copy gets: the source's with -a; root's in a container; the caller's (no chown) on the host. */
function ownerOf(w: Walk, st: Stats): { uid: number; gid: number } | undefined {
  if (w.archive) return { uid: st.uid, gid: st.gid };
  return w.direction === 'in' ? { uid: 0, gid: 0 } : undefined;
}

/** The mode a copy gets: the source's; set-uid/gid bits leave a container only with the owner (-a), as GNU cp does without --preserve=ownership. */
function modeOf(w: Walk, st: Stats): number {
  return st.mode & (w.direction === 'out' && !w.archive ? 0o1777 : 0o7777);
}

const tempName = (): string => `.tsstack-cp-${randomBytes(6).toString('hex')}`;

/** Copies the entry open as `srcFd` (O_PATH, stat `st`) to entry `name` of directory `dstDir`. */
function copyEntry(w: Walk, srcFd: number, st: Stats, dstDir: number, name: string, srcLabel: string, dstLabel: string): void {
  if (st.isDirectory()) return copyDir(w, srcFd, st, dstDir, name, srcLabel, dstLabel);
  if (st.isSocket()) {
    w.skipped.push(`${srcLabel}: a socket`);
    return;
  }
  if ((st.isCharacterDevice() || st.isBlockDevice()) && w.direction === 'out' && !w.archive) {
    w.skipped.push(`${srcLabel}: a device node (copied only with -a)`);
    return;
  }
  const key = `${st.dev}:${st.ino}`;
  const tmp = tempName();
  let keep: number | undefined;
  const linked = st.nlink > 1 && !st.isSymbolicLink() ? w.links.get(key) : undefined;
  try {
    if (linked !== undefined) {
      linkFd(linked, dstDir, tmp); // the owner, mode and times are the first copy's
    } else if (st.isFile()) {
      const out = openChild(dstDir, tmp, O_WRONLY | O_CREAT | O_EXCL, 0o600);
      try {
        const input = openSync(fdPath(srcFd), O_RDONLY); // a regular file (fstat above): opening it has no side effects
        try { copyFd(input, out); } finally { closeFd(input); }
        const owner = ownerOf(w, st);
        if (owner) fchownSync(out, owner.uid, owner.gid);
        fchmodSync(out, modeOf(w, st)); // after chown, which clears set-id bits
        futimesSync(out, st.atimeMs / 1000, st.mtimeMs / 1000);
        if (st.nlink > 1 && w.links.size < MAX_LINK_FDS) keep = out;
      } finally {
        if (keep === undefined) closeFd(out);
      }
    } else if (st.isSymbolicLink()) {
      symlinkat(readlinkFd(srcFd), dstDir, tmp);
      const owner = ownerOf(w, st);
      if (owner) lchownat(dstDir, tmp, owner.uid, owner.gid);
      lutimesat(dstDir, tmp, st.atimeMs, st.mtimeMs);
    } else {
      // FIFO or device node: made anew, never opened (reading a FIFO would block, opening a device acts on it)
      const type = st.mode & 0o170000;
      mknodat(dstDir, tmp, type | 0o600, BigInt(st.rdev));
      const fd = openChild(dstDir, tmp);
      try {
        if ((fstatSync(fd).mode & 0o170000) !== type) throw Object.assign(new Error(`${dstLabel} changed while being copied`), { code: 'EAGAIN' });
        const owner = ownerOf(w, st);
        if (owner) lchownat(fd, '', owner.uid, owner.gid);
        chmodSync(fdPath(fd), modeOf(w, st)); // through the fd: the node itself, whatever is at its name now
      } finally {
        closeFd(fd);
      }
      lutimesat(dstDir, tmp, st.atimeMs, st.mtimeMs);
    }
    renameat(dstDir, tmp, name);
    if (keep !== undefined) w.links.set(key, keep);
  } catch (e) {
    if (keep !== undefined) closeFd(keep);
    try { unlinkat(dstDir, tmp); } catch { /* not made */ }
    if (isErr(e, 'EISDIR', 'ENOTEMPTY', 'EEXIST')) throw new TsstackError('CONFLICT', `cannot replace directory ${dstLabel} with ${srcLabel}, which is not a directory`, { hint: 'remove the directory first, or copy to another path' });
    if (isErr(e, 'EBUSY')) throw new TsstackError('CONFLICT', `${dstLabel} is a mount point; it cannot be replaced`, { hint: 'copy into the directory it is mounted on instead' });
    throw Object.assign(e as Error, { label: (e as { label?: string }).label ?? dstLabel });
  }
}

function copyDir(w: Walk, srcFd: number, st: Stats, dstDir: number, name: string, srcLabel: string, dstLabel: string): void {
  let d: number;
  let made = false;
  try {
    d = openChild(dstDir, name, O_PATH | O_DIRECTORY);
  } catch (e) {
    if (isErr(e, 'ENOTDIR', 'ELOOP')) throw new TsstackError('CONFLICT', `cannot replace ${dstLabel}, which is not a directory, with directory ${srcLabel}`, { hint: 'remove it first, or copy to another path' });
    if (!isErr(e, 'ENOENT')) throw Object.assign(e as Error, { label: dstLabel });
    try { mkdirat(dstDir, name, 0o700); made = true; } catch (e2) { if (!isErr(e2, 'EEXIST')) throw Object.assign(e2 as Error, { label: dstLabel }); }
    try {
      d = openChild(dstDir, name, O_PATH | O_DIRECTORY);
    } catch (e2) {
      throw isErr(e2, 'ENOTDIR', 'ELOOP') ? new TsstackError('CONFLICT', `${dstLabel} changed while being copied`, { hint: 'try again' }) : Object.assign(e2 as Error, { label: dstLabel });
    }
  }
  try {
    if (!(w.live && isPseudo(srcFd))) {
      for (const child of listFd(srcFd)) copyChild(w, srcFd, child, d, child, `${srcLabel}/${child}`, `${dstLabel}/${child}`);
    }
    // an existing directory keeps its owner, mode and times; one made here gets the source's, once its entries are in
    if (made) {
      const owner = ownerOf(w, st);
      if (owner) lchownat(d, '', owner.uid, owner.gid);
      chmodSync(fdPath(d), modeOf(w, st));
      utimesSync(fdPath(d), st.atimeMs / 1000, st.mtimeMs / 1000);
    }
  } finally {
    closeFd(d);
  }
}

function isPseudo(fd: number): boolean {
  try {
    return PSEUDO_FS.has(Number(statfsSync(fdPath(fd)).type));
  } catch {
    return false;
  }
}

/** An errno error of a copy as a TsstackError naming `what`. */
function explain(e: unknown, what: string, verb: 'read' | 'write' | 'copy'): Error {
  if (e instanceof TsstackError) return e;
  const code = (e as { code?: string })?.code ?? '';
  const why = (e as Error)?.message ?? String(e);
  if (code === 'ENOENT') return new TsstackError('NOT_FOUND', `${what} does not exist`, { cause: e });
  if (code === 'EROFS') return new TsstackError('CONFLICT', `cannot ${verb} ${what}: it is on a read-only filesystem`, { cause: e, hint: 'a read_only container or a :ro mount takes no copies; copy elsewhere' });
  if (['EEXIST', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENOTEMPTY', 'EBUSY', 'EROFS', 'EPERM', 'EACCES', 'EXDEV', 'EAGAIN', 'ENAMETOOLONG'].includes(code)) {
    return new TsstackError('CONFLICT', `cannot ${verb} ${what}: ${why}`, { cause: e });
  }
  return new TsstackError('HOST', `cannot ${verb} ${what}: ${why}`, { cause: e, hint: code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space and copy again' : undefined });
}

/**
 * A copy between the host path `hostPath` and `path` in a container's root: `root` is an fd of it
 * (a running container's, taken over and closed here) or a host directory (a stopped one's root
 * filesystem or bind source). `asGiven` is the container path as the user wrote it: its trailing
 * `/` or `/.` keeps its meaning.
 */
export function copyAt(root: number | string, name: string, path: string, asGiven: string, hostPath: string, direction: 'in' | 'out', opts: CopyOptions = {}): CopyReport {
  let rootFd: number;
  if (typeof root === 'number') rootFd = root;
  else {
    requireOpenat2();
    try {
      rootFd = openat2(-100, root, O_PATH | O_DIRECTORY, 0);
    } catch (e) {
      throw explain(e, `${name}:${asGiven} (held in ${root} while the container is stopped)`, 'read');
    }
  }
  try {
    const tail = /\/\.$/.test(asGiven) ? '/.' : asGiven.endsWith('/') ? '/' : '';
    const p = path.replace(/\/+$/, '') + tail || '/';
    const ctr = rootSide(rootFd, name, typeof root === 'number');
    return direction === 'out' ? copyBetween(ctr, p, hostSide(), hostPath, 'out', opts) : copyBetween(hostSide(), hostPath, ctr, p, 'in', opts);
  } finally {
    closeFd(rootFd);
  }
}

/** The contents of `path` in the root at host path `root`, resolved inside it (links stay in the root); '' when absent. */
export function readFileInRoot(root: string, path: string): string {
  if (!openat2Supported()) {
    try { return readFileSync(resolveInRoot(root, path), 'utf8'); } catch { return ''; } // Linux < 5.6: the resolution below, racy
  }
  let rootFd: number | undefined, fd: number | undefined;
  try {
    rootFd = openat2(-100, root, O_PATH | O_DIRECTORY, 0);
    fd = openInRoot(rootFd, path, true);
    if (!fstatSync(fd).isFile()) return '';
    return readFileSync(fdPath(fd), 'utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeFd(fd);
    if (rootFd !== undefined) closeFd(rootFd);
  }
}

/**
 * An fd of the root directory of process `pid` (a container's init), seen as it sees it (its mounts
 * included), once its cgroup shows it is container `id`'s (not a process that reused the pid).
 * undefined when it is gone or not the container's.
 */
export function openProcessRoot(pid: number, id: string, startTime?: string): number | undefined {
  let proc: number | undefined;
  try {
    proc = openat2(-100, `/proc/${pid}`, O_PATH | O_DIRECTORY, 0);
    // through the /proc/<pid> fd, both reads are of that one process, even if the pid is reused meanwhile
    const readAt = (f: string): string => {
      const fd = openat2(proc!, f, O_RDONLY, 0);
      try { return readFileSync(fd, 'utf8'); } finally { closeFd(fd); }
    };
    const own = readAt('cgroup').split('\n').some((l) => l.split(':').slice(2).join(':').split('/').includes(id));
    // a container without a cgroup of its own (rootless, nothing delegated): its init as the runtime recorded it
    if (!own && (startTime === undefined || procStartTime(readAt('stat')) !== startTime)) return undefined;
    return openat2(proc, 'root', O_PATH | O_DIRECTORY, 0);
  } catch {
    return undefined;
  } finally {
    if (proc !== undefined) closeFd(proc);
  }
}

/**
 * Host path of `path` (absolute, as seen in the container) under `root`, its links resolved inside the
 * root, component by component. Racy against a container changing its files (check, then use): used only
 * where no container process runs yet (seeding a new anonymous volume at create) and by readFileInRoot's
 * fallback for kernels without openat2.
 */
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
