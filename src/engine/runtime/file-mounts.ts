// Secrets and configs (bind mounts with a `file` option): each container gets its own
// copy in `<container>/files/` (0700, root's), owned by the container's user (or the
// uid/gid asked for) with the mode asked for, and that copy is bound read-only.
//
// Why a copy rather than a bind of the source (as Compose does for `file:` secrets):
// the owner and mode must be the container's, not the host file's, and no other
// host user may read it (the source of an environment-sourced secret is root's own
// 0600 file; a user's file keeps whatever mode its owner gave it). The copy is made
// again at every start, so a changed source file is seen after a restart (a bind of
// the file would not see an editor's save either: it replaces the file by rename).

import { closeSync, constants, fchmodSync, fchownSync, fstatSync, mkdirSync, chmodSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import type { FileMountOptions, Mount } from '../api.js';

export const FILES_DIR = 'files';
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Where the copy of `spec.mounts[index]` lives. */
export function fileMountPath(containerDir: string, index: number): string {
  return join(containerDir, FILES_DIR, String(index));
}

/** The source's bytes; a directory yields undefined (bound as it is). */
function readSource(source: string, what: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(source, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TsstackError('NOT_FOUND', `${what}: cannot read ${source}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
      hint: 'create the file, or fix its path in the stack file',
      cause: e,
    });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return undefined;
    if (!st.isFile()) throw new TsstackError('RUNTIME', `${what}: ${source} is not a regular file`, { hint: 'a secret or config is a file (or a directory)' });
    const chunks: Buffer[] = [];
    for (;;) {
      const b = Buffer.alloc(64 * 1024);
      const n = readSync(fd, b, 0, b.length, null);
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` at `dest` (replacing it by rename), owned by uid:gid with `mode`. */
function writeOwned(dest: string, data: Buffer, uid: number, gid: number, mode: number): void {
  const tmp = `${dest}.${process.pid}.tmp`;
  try { unlinkSync(tmp); } catch { /* none left */ }
  const fd = openSync(tmp, CREATE_NEW, 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fchownSync(fd, uid, gid);
    fchmodSync(fd, mode & 0o7777); // after the chown, which would clear set-id bits
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, dest);
}

/**
 * Makes the container's copy of each file mount (at create and before every start) and returns
 * the source to bind for `mounts[i]`: the copy, or the source itself for a directory.
 */
export function placeFileMounts(containerDir: string, mounts: Mount[], owner: { uid: number; gid: number }, what: string): Map<number, string> {
  const out = new Map<number, string>();
  const dir = join(containerDir, FILES_DIR);
  mounts.forEach((m, i) => {
    if (m.type !== 'bind' || !m.file) return;
    if (!out.size) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
    const data = readSource(m.source, `${what}: the file for ${m.target}`);
    if (!data) {
      out.set(i, m.source);
      return;
    }
    const o: FileMountOptions = m.file;
    writeOwned(fileMountPath(containerDir, i), data, o.uid ?? owner.uid, o.gid ?? owner.gid, o.mode);
    out.set(i, fileMountPath(containerDir, i));
  });
  return out;
}
