// COPY/ADD into a mounted root with Docker's directory semantics: a
// directory source copies its contents; several sources (or a destination
// ending in `/`, or an existing directory) make the destination a directory;
// files keep mode and mtime, get owner 0:0 unless `--chown`, and `--chmod`
// overrides modes. Destinations resolve inside the root (see rootfs-fs.ts).

import { copyFile, lstat, lchown, chmod, lutimes, mkdir, readlink, rm, symlink, utimes, readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { resolveInRoot } from './rootfs-fs.js';

/**
 * How a source's files are read. The default reads host paths; sources from
 * a context or a stage read through their SafeRoot (`abs` is then a path
 * relative to that root), so no link is followed out of it.
 */
export interface SourceReader {
  readlink(abs: string): Promise<string> | string;
  copyFile(abs: string, dest: string): Promise<void>;
}

const hostReader: SourceReader = { readlink, copyFile: (abs, dest) => copyFile(abs, dest) };

/** One selected source: a path on the host and how to list below it when it is a directory. */
export interface CopySource {
  /** Path of the source for `reader` (already resolved; top-level symlinks followed). */
  abs: string;
  reader?: SourceReader;
  /** Base name used when placing a file source inside a destination directory. */
  name: string;
  st: Stats;
  /** Entries below a directory source, relative to it, parents before children. */
  children?: () => Promise<{ rel: string; abs: string; st: Stats }[]>;
}

export interface CopyOptions {
  owner?: { uid: number; gid: number };
  /** Octal mode for every file and directory copied. */
  mode?: number;
  /** The instruction had a wildcard or several sources (destination must be a directory). */
  multi: boolean;
}

export class CopyError extends Error {}

/** Lists a host directory recursively (for sources from another stage or image). */
export async function listTree(dir: string): Promise<{ rel: string; abs: string; st: Stats }[]> {
  const out: { rel: string; abs: string; st: Stats }[] = [];
  const rec = async (rel: string): Promise<void> => {
    for (const n of (await readdir(join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const abs = join(dir, r);
      const st = await lstat(abs);
      out.push({ rel: r, abs, st });
      if (st.isDirectory()) await rec(r);
    }
  };
  await rec('');
  return out;
}

/** Makes directories along `containerPath` inside `root` (mode 0755, given owner for new ones); returns the host path. */
async function mkdirsInRoot(root: string, containerPath: string, owner?: { uid: number; gid: number }): Promise<string> {
  const parts = posix.normalize('/' + containerPath).split('/').filter(Boolean);
  let cur = '/';
  let host = root;
  for (const p of parts) {
    cur = posix.join(cur, p);
    host = resolveInRoot(root, cur);
    const st = await stat(host).catch(() => undefined);
    if (!st) {
      await mkdir(host, { mode: 0o755 });
      if (owner) await lchown(host, owner.uid, owner.gid);
    } else if (!st.isDirectory()) throw new CopyError(`cannot copy to ${containerPath}: ${cur} is not a directory`);
  }
  return host;
}

async function writeEntry(root: string, target: string, src: { abs: string; st: Stats }, opts: CopyOptions, reader: SourceReader): Promise<void> {
  const parent = posix.dirname(target);
  const hostParent = await mkdirsInRoot(root, parent, opts.owner);
  const host = join(hostParent, posix.basename(target));
  const existing = await lstat(host).catch(() => undefined);
  const st = src.st;
  const uid = opts.owner?.uid ?? 0;
  const gid = opts.owner?.gid ?? 0;
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) await rm(host, { force: true });
    if (!existing || !existing.isDirectory()) await mkdir(host);
    await chmod(host, opts.mode ?? st.mode & 0o7777);
    await lchown(host, uid, gid);
    return;
  }
  if (existing) {
    if (existing.isDirectory()) throw new CopyError(`cannot copy a file onto the directory ${target}`);
    await rm(host, { force: true });
  }
  if (st.isSymbolicLink()) {
    await symlink(await reader.readlink(src.abs), host);
    await lchown(host, uid, gid);
    await lutimes(host, st.atime, st.mtime);
    return;
  }
  if (!st.isFile()) return; // devices, fifos and sockets are not copied from a context
  await reader.copyFile(src.abs, host);
  await chmod(host, opts.mode ?? st.mode & 0o7777);
  await lchown(host, uid, gid);
  await utimes(host, st.atime, st.mtime);
}

/**
 * Copies `sources` to `dest` (an absolute path in the container) inside
 * `root`. Throws CopyError for Docker's user errors.
 */
export async function copyInto(root: string, dest: string, sources: CopySource[], opts: CopyOptions): Promise<void> {
  const hostDest = resolveInRoot(root, dest);
  const destExists = await stat(hostDest).catch(() => undefined);
  const destIsDir = dest.endsWith('/') || destExists?.isDirectory() === true;
  if (opts.multi && sources.length > 1 && !dest.endsWith('/') && !destIsDir) {
    throw new CopyError('When using COPY with more than one source file, the destination must be a directory and end with a /');
  }
  const dirTimes: { target: string; st: Stats }[] = [];
  for (const s of sources) {
    if (s.st.isDirectory()) {
      await mkdirsInRoot(root, dest, opts.owner);
      for (const c of (await s.children?.()) ?? []) {
        const target = posix.join(dest, c.rel);
        await writeEntry(root, target, c, opts, s.reader ?? hostReader);
        if (c.st.isDirectory()) dirTimes.push({ target, st: c.st });
      }
    } else {
      const target = destIsDir || sources.length > 1 ? posix.join(dest, s.name) : dest;
      await writeEntry(root, target, s, opts, s.reader ?? hostReader);
    }
  }
  // Directory mtimes last, deepest first, so writing children does not disturb them.
  for (const d of dirTimes.reverse()) {
    await utimes(resolveInRoot(root, d.target), d.st.atime, d.st.mtime).catch(() => undefined);
  }
}
