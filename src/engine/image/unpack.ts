// Applies one layer tar (already decompressed) to an empty directory, producing
// the directory overlayfs stacks: OCI whiteouts become overlay whiteouts
// (`.wh.x` → char device 0/0 named x; `.wh..wh..opq` → trusted.overlay.opaque=y on
// the directory). Modes, owners, mtimes, xattrs (PAX SCHILY.xattr.*), hard links,
// symlinks, device nodes and fifos are kept. An entry whose path (or hard-link
// target) leaves the directory by `..` or through a symlink is refused.
// Contract: `dest` is private to the caller while this runs (a temp dir).

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, symlink, link, lchown, chmod, lutimes, rm, utimes } from 'node:fs/promises';
import { posix, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TsstackError } from '../../util/errors.js';
import { mknod, lsetxattr, S_IFCHR, S_IFBLK, S_IFIFO } from './sys.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream (`sha256:…`). */
  diffId: string;
  /** Bytes of regular file content written. */
  size: number;
  entries: number;
}

/** Normalizes a tar entry name to a relative path; undefined for the root itself; throws when it escapes. */
export function safeRelative(name: string, what: string): string | undefined {
  const n = posix.normalize(name.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (n === '..' || n.startsWith('../')) throw escapes(what, name);
  return n === '' || n === '.' ? undefined : n;
}

type Header = Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };

function escapes(what: string, name: string): TsstackError {
  return new TsstackError('IMAGE', `${what}: tar entry "${name}" escapes the layer directory`, {
    hint: 'the layer is malformed or malicious; it was not unpacked',
  });
}

/**
 * Unpacks `tarStream` into `dest` (an existing empty directory) and returns the
 * diff id. `what` names the layer in errors (its digest).
 */
export async function unpackLayer(tarStream: Readable, dest: string, what: string): Promise<UnpackResult> {
  const hash = createHash('sha256');
  const hasher = new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } });
  const extract = tar.extract();
  const dirTimes: { path: string; mtime: Date }[] = [];
  let size = 0;
  let entries = 0;

  /** Creates missing parents of `rel` as plain directories; refuses symlinks and non-directories on the way. */
  async function ensureParents(rel: string, name: string): Promise<void> {
    const parts = rel.split('/');
    let cur = dest;
    for (let i = 0; i < parts.length - 1; i++) {
      cur = join(cur, parts[i]!);
      const st = await lstat(cur).catch(() => undefined);
      if (!st) await mkdir(cur, 0o755);
      else if (st.isSymbolicLink()) throw escapes(what, name);
      else if (!st.isDirectory()) throw new TsstackError('IMAGE', `${what}: tar entry "${name}" is below "${parts.slice(0, i + 1).join('/')}", which is not a directory`);
    }
  }

  async function handle(h: Header, entry: Readable): Promise<void> {
    const name = h.name;
    const rel = safeRelative(name, what);
    if (rel === undefined) return; // the layer root: nothing to create
    await ensureParents(rel, name);
    const base = posix.basename(rel);
    const dir = posix.dirname(rel);
    const abs = join(dest, rel);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base === OPAQUE_MARKER) {
        const d = dir === '.' ? dest : join(dest, dir);
        lsetxattr(d, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      } else if (!base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) {
        const target = join(dest, dir, base.slice(WHITEOUT_PREFIX.length));
        await rm(target, { recursive: true, force: true });
        mknod(target, S_IFCHR, 0, 0, 0);
      }
      return;
    }
    const existing = await lstat(abs).catch(() => undefined);
    if (existing && !(existing.isDirectory() && h.type === 'directory')) await rm(abs, { recursive: true, force: true });
    const mode = (h.mode ?? 0o644) & 0o7777;
    switch (h.type) {
      case 'file':
      case 'contiguous-file':
        await pipeline(entry, createWriteStream(abs, { mode: 0o600 }));
        size += h.size ?? 0;
        break;
      case 'directory':
        if (!existing) await mkdir(abs, 0o700);
        break;
      case 'symlink':
        await symlink(h.linkname ?? '', abs);
        break;
      case 'link': {
        const target = safeRelative(h.linkname ?? '', what);
        if (target === undefined) throw escapes(what, h.linkname ?? '');
        await ensureParents(target, h.linkname ?? '');
        const tst = await lstat(join(dest, target)).catch(() => undefined);
        if (!tst) throw new TsstackError('IMAGE', `${what}: hard link "${name}" points at "${h.linkname}", which is not in the layer`);
        await link(join(dest, target), abs);
        return; // shares the target's inode and metadata
      }
      case 'character-device':
        mknod(abs, S_IFCHR, mode, h.devmajor ?? 0, h.devminor ?? 0);
        break;
      case 'block-device':
        mknod(abs, S_IFBLK, mode, h.devmajor ?? 0, h.devminor ?? 0);
        break;
      case 'fifo':
        mknod(abs, S_IFIFO, mode);
        break;
      default:
        return; // unknown entry types are skipped, as Docker does
    }
    await lchown(abs, h.uid ?? 0, h.gid ?? 0);
    if (h.type !== 'symlink') await chmod(abs, mode); // after chown, which clears setuid bits
    for (const [k, v] of Object.entries(h.pax ?? {})) {
      if (k.startsWith('SCHILY.xattr.')) lsetxattr(abs, k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'utf8'));
    }
    const mtime = h.mtime ?? new Date(0);
    if (h.type === 'directory') dirTimes.push({ path: abs, mtime });
    else await lutimes(abs, mtime, mtime);
  }

  const source = tarStream.pipe(hasher);
  tarStream.on('error', (e) => hasher.destroy(e));
  source.on('error', (e) => extract.destroy(e));
  source.pipe(extract);
  try {
    for await (const entry of extract) {
      entries++;
      try {
        await handle(entry.header as Header, entry as unknown as Readable);
      } finally {
        entry.resume();
      }
    }
  } catch (e) {
    tarStream.destroy();
    if (e instanceof TsstackError) throw e;
    throw new TsstackError('IMAGE', `${what}: cannot unpack layer: ${(e as Error).message}`, { cause: e });
  }
  // Parents before children were created; set directory times deepest first so
  // creating children does not disturb them.
  dirTimes.sort((a, b) => b.path.length - a.path.length);
  for (const d of dirTimes) await utimes(d.path, d.mtime, d.mtime);
  return { diffId: 'sha256:' + hash.digest('hex'), size, entries };
}
