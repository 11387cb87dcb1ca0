// Packs a directory tree into a tar stream (PAX, deterministic order): modes,
// owners, mtimes, symlinks, hard links (by inode), device nodes, fifos and
// xattrs. With `overlayWhiteouts`, overlay whiteouts (char 0/0) become OCI
// `.wh.<name>` entries and opaque directories get a `.wh..wh..opq` entry, so
// an overlay upper dir packs into an OCI layer diff.

import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { lgetxattrs, majorOf, minorOf } from './sys.js';
import { OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, USER_OVERLAY_PREFIX, WHITEOUT_PREFIX } from './unpack.js';
import { installBinaryPax, XATTR_PREFIX } from './tar-pax.js';

installBinaryPax();

export interface PackOptions {
  overlayWhiteouts?: boolean;
  /** Override every entry's mtime (reproducible layers). */
  mtime?: Date;
}

/** A tar stream of `dir`'s contents (entry names relative, no leading `./`). */
export function packDirectory(dir: string, opts: PackOptions = {}): Readable {
  const pack = tar.pack();
  const inodes = new Map<string, string>();

  async function entryFor(abs: string, rel: string): Promise<void> {
    const st = await lstat(abs);
    const xattrs = lgetxattrs(abs);
    const pax: Record<string, string> = {};
    let opaque = false;
    for (const [k, v] of Object.entries(xattrs).sort(([a], [b]) => (a < b ? -1 : 1))) {
      // an overlay mounted in a user namespace (rootless, `userxattr`) keeps the same marks as user.overlay.*
      if (opts.overlayWhiteouts && (k.startsWith('trusted.overlay.') || k.startsWith(USER_OVERLAY_PREFIX))) {
        if ((k === OVERLAY_OPAQUE_XATTR || k === `${USER_OVERLAY_PREFIX}opaque`) && v.toString() === 'y') opaque = true;
        continue;
      }
      pax[`${XATTR_PREFIX}${k}`] = v.toString('latin1');
    }
    const base = {
      name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: opts.mtime ?? st.mtime,
      ...(Object.keys(pax).length ? { pax } : {}),
    };
    if (st.isCharacterDevice() && opts.overlayWhiteouts && st.rdev === 0) {
      const slash = rel.lastIndexOf('/');
      const wh = rel.slice(0, slash + 1) + WHITEOUT_PREFIX + rel.slice(slash + 1);
      await write({ name: wh, mode: 0o644, uid: 0, gid: 0, mtime: base.mtime, type: 'file', size: 0 });
      return;
    }
    if (st.isDirectory()) {
      await write({ ...base, name: rel + '/', type: 'directory' });
      if (opaque) await write({ name: `${rel}/${OPAQUE_MARKER}`, mode: 0o644, uid: 0, gid: 0, mtime: base.mtime, type: 'file', size: 0 });
      await walk(abs, rel + '/');
    } else if (st.isSymbolicLink()) {
      await write({ ...base, type: 'symlink', linkname: await readlink(abs) });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first !== undefined) {
        await write({ ...base, type: 'link', linkname: first, size: 0 });
        return;
      }
      if (st.nlink > 1) inodes.set(key, rel);
      const sink = pack.entry({ ...base, type: 'file', size: st.size });
      await pipeline(createReadStream(abs), sink as unknown as NodeJS.WritableStream);
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      await write({ ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: majorOf(st.rdev), devminor: minorOf(st.rdev) });
    } else if (st.isFIFO()) {
      await write({ ...base, type: 'fifo' });
    }
    // sockets are skipped, as tar does
  }

  function write(h: Parameters<typeof pack.entry>[0]): Promise<void> {
    return new Promise((res, rej) => { pack.entry(h, Buffer.alloc(0), (e) => (e ? rej(e) : res())); });
  }

  async function walk(abs: string, prefix: string): Promise<void> {
    const names = (await readdir(abs)).sort();
    for (const n of names) await entryFor(join(abs, n), prefix + n);
  }

  walk(dir, '').then(() => pack.finalize(), (e) => pack.destroy(e));
  return pack as unknown as Readable;
}
