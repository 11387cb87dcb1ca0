// Applies one layer tar (already decompressed) to an empty directory, producing
// the directory overlayfs stacks: OCI whiteouts become overlay whiteouts
// (`.wh.x` → char device 0/0 named x; `.wh..wh..opq` → trusted.overlay.opaque=y on
// the directory). Modes, owners, mtimes, xattrs (PAX SCHILY.xattr.*), hard links,
// symlinks, device nodes and fifos are kept (trusted.overlay.* xattrs are not).
// An entry whose path (or hard-link target) leaves the directory by `..` or
// through a symlink is refused.
// Contract: `dest` is private to the caller while this runs (a temp dir).
//
// Rootless (this process in a user namespace, rootless/userns.ts): owners are
// written as namespace ids and the kernel shifts them into the user's subordinate
// ids, so nothing here adds offsets. An owner the namespace does not map is
// refused (the layer is left unpacked as a whole: the caller's temp dir goes);
// opaque directories are marked with `user.overlay.opaque`, which an overlay
// mounted there reads (`userxattr`); device nodes, which the kernel will not make
// there, are skipped (the runtime gives every container its /dev), as are
// `trusted.*` xattrs, which need privilege over the host.

import { nodeCrypto, sha256Hex } from '../../util/digest.js';
import {
  closeSync, createWriteStream, fchmodSync, fchownSync, futimesSync, lchownSync, chmodSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, rmSync, symlinkSync, utimesSync, writeSync, type Stats,
} from 'node:fs';
import { posix, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TsstackError } from '../../util/errors.js';
import { describeMapped } from '../rootless/ids.js';
import { ownUserNamespace, ownerMapped } from '../rootless/userns.js';
import { mknod, lsetxattr, S_IFCHR, S_IFBLK, S_IFIFO } from './sys.js';
import { installBinaryPax, XATTR_PREFIX } from './tar-pax.js';

installBinaryPax();

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
/** Where an overlay mounted in a user namespace (`userxattr`) keeps its metadata. */
export const USER_OVERLAY_PREFIX = 'user.overlay.';

/** The opaque xattr overlay reads here: `user.overlay.opaque` in a user namespace. */
export function opaqueXattr(): string {
  return ownUserNamespace() ? `${USER_OVERLAY_PREFIX}opaque` : OVERLAY_OPAQUE_XATTR;
}
/** xattrs overlayfs keeps for itself; never taken from a layer tar. */
const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

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

const SMALL_FILE = 1 << 20;

function lstatQuiet(p: string): Stats | undefined {
  return lstatSync(p, { throwIfNoEntry: false });
}

type Header = Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };

function unmappedOwner(what: string, name: string, uid: number, gid: number): TsstackError {
  const maps = ownUserNamespace()!;
  return new TsstackError('IMAGE', `${what}: tar entry "${name}" belongs to ${uid}:${gid}, outside the ids this rootless user namespace maps (uids ${describeMapped(maps.uid)}; gids ${describeMapped(maps.gid)})`, {
    hint: 'nothing of the layer was kept; give your user (more) subordinate ids in /etc/subuid and /etc/subgid (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER), then run the command again after `tsstack down`, or run it as root',
  });
}

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
  const hash = nodeCrypto().createHash('sha256');
  const rootless = ownUserNamespace();
  const opaque = opaqueXattr();
  const hasher = new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } });
  const extract = tar.extract();
  // Directory mtimes, set at the end (creating children would change them); keyed by relative path.
  const dirTimes = new Map<string, Date>();
  let size = 0;
  let entries = 0;

  // Directories (relative) known to be real directories made by this unpack:
  // saves re-checking every parent of every entry. Dropped when replaced.
  const knownDirs = new Set<string>();
  const forget = (rel: string): void => {
    for (const d of knownDirs) if (d === rel || d.startsWith(rel + '/')) knownDirs.delete(d);
    for (const d of dirTimes.keys()) if (d === rel || d.startsWith(rel + '/')) dirTimes.delete(d);
  };

  /** Creates missing parents of `rel` as plain directories; refuses symlinks and non-directories on the way. */
  function ensureParents(rel: string, name: string): void {
    const parent = posix.dirname(rel);
    if (parent === '.' || knownDirs.has(parent)) return;
    const parts = parent.split('/');
    let cur = '';
    for (let i = 0; i < parts.length; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
      if (knownDirs.has(cur)) continue;
      const abs = join(dest, cur);
      const st = lstatQuiet(abs);
      if (!st) mkdirSync(abs, 0o755);
      else if (st.isSymbolicLink()) throw escapes(what, name);
      else if (!st.isDirectory()) throw new TsstackError('IMAGE', `${what}: tar entry "${name}" is below "${cur}", which is not a directory`);
      knownDirs.add(cur);
    }
  }

  async function handle(h: Header, entry: Readable): Promise<void> {
    const name = h.name;
    const rel = safeRelative(name, what);
    if (rel === undefined) return; // the layer root: nothing to create
    ensureParents(rel, name);
    const base = posix.basename(rel);
    const dir = posix.dirname(rel);
    const abs = join(dest, rel);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base === OPAQUE_MARKER) {
        const d = dir === '.' ? dest : join(dest, dir);
        lsetxattr(d, opaque, Buffer.from('y'));
      } else if (!base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) {
        const victim = base.slice(WHITEOUT_PREFIX.length);
        // `.wh..`/`.wh...` would name the directory itself or its parent.
        if (victim === '' || victim === '.' || victim === '..') throw escapes(what, name);
        const targetRel = (dir === '.' ? '' : dir + '/') + victim;
        rmSync(join(dest, targetRel), { recursive: true, force: true });
        forget(targetRel);
        mknod(join(dest, targetRel), S_IFCHR, 0, 0, 0);
      }
      return;
    }
    let existing = lstatQuiet(abs);
    if (existing && !(existing.isDirectory() && h.type === 'directory')) {
      rmSync(abs, { recursive: true, force: true });
      forget(rel);
      existing = undefined; // a directory replacing a link (or a file) is made anew
    }
    const mode = (h.mode ?? 0o644) & 0o7777;
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    if (rootless && h.type !== 'link' && !ownerMapped(uid, gid, rootless)) throw unmappedOwner(what, name, uid, gid);
    if (rootless && (h.type === 'character-device' || h.type === 'block-device')) return;
    const mtime = h.mtime ?? new Date(0);
    switch (h.type) {
      case 'file':
      case 'contiguous-file': {
        const n = h.size ?? 0;
        if (n <= SMALL_FILE) {
          // Small files: buffer and write with sync calls on one fd (no thread-pool round trips).
          const chunks: Buffer[] = [];
          for await (const c of entry) chunks.push(c as Buffer);
          const fd = openSync(abs, 'w', 0o600);
          try {
            for (const c of chunks) { let off = 0; while (off < c.length) off += writeSync(fd, c, off); }
            fchownSync(fd, uid, gid);
            fchmodSync(fd, mode);
            futimesSync(fd, mtime, mtime);
          } finally { closeSync(fd); }
        } else {
          await pipeline(entry, createWriteStream(abs, { mode: 0o600, highWaterMark: 1 << 20 }));
          lchownSync(abs, uid, gid);
          chmodSync(abs, mode);
          lutimesSync(abs, mtime, mtime);
        }
        size += n;
        setXattrs(abs, h);
        return;
      }
      case 'directory':
        if (!existing) mkdirSync(abs, 0o700);
        knownDirs.add(rel);
        break;
      case 'symlink':
        symlinkSync(h.linkname ?? '', abs);
        break;
      case 'link': {
        const target = safeRelative(h.linkname ?? '', what);
        if (target === undefined) throw escapes(what, h.linkname ?? '');
        ensureParents(target, h.linkname ?? '');
        if (!lstatQuiet(join(dest, target))) throw new TsstackError('IMAGE', `${what}: hard link "${name}" points at "${h.linkname}", which is not in the layer`);
        linkSync(join(dest, target), abs);
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
    lchownSync(abs, uid, gid);
    if (h.type !== 'symlink') chmodSync(abs, mode); // after chown, which clears setuid bits
    setXattrs(abs, h);
    if (h.type === 'directory') dirTimes.set(rel, mtime);
    else lutimesSync(abs, mtime, mtime);
  }

  function setXattrs(abs: string, h: Header): void {
    if (!h.pax) return;
    for (const [k, v] of Object.entries(h.pax)) {
      if (!k.startsWith(XATTR_PREFIX)) continue;
      const name = k.slice(XATTR_PREFIX.length);
      // overlayfs reads its own metadata from these (redirect, metacopy, origin, opaque…): a layer
      // says what it deletes with OCI whiteouts only, never by steering the overlay's lookups.
      if (name.startsWith(OVERLAY_XATTR_PREFIX) || name.startsWith(USER_OVERLAY_PREFIX)) continue;
      if (rootless && name.startsWith('trusted.')) continue;
      lsetxattr(abs, name, Buffer.from(v, 'latin1'));
    }
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
  // Only directories never replaced remain in the map, so no path here crosses a symlink.
  for (const [rel, mtime] of [...dirTimes].sort((a, b) => b[0].length - a[0].length)) utimesSync(join(dest, rel), mtime, mtime);
  return { diffId: 'sha256:' + hash.digest('hex'), size, entries };
}
