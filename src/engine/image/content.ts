// The content store: blobs by sha256 under <root>/content/blobs/sha256/<hex>.
// Every write is verified: bytes are hashed as they stream into a temp file in
// <root>/content/tmp/, and only a matching file is renamed into place, so a blob
// path always holds exactly the content its name promises.

import { nodeCrypto } from '../../util/digest.js';
import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { readFile, rename, rm, stat, readdir } from '../../util/fs-async.js';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsstackError } from '../../util/errors.js';
import { digestHex, isSha256Digest, sha256Digest } from './oci.js';

export interface BlobInfo { digest: string; size: number }

export class ContentStore {
  readonly blobsDir: string;
  readonly tmpDir: string;

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'content', 'blobs', 'sha256');
    this.tmpDir = join(root, 'content', 'tmp');
    mkdirSync(this.blobsDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  has(digest: string): boolean {
    return isSha256Digest(digest) && existsSync(this.path(digest));
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch {
      throw new TsstackError('NOT_FOUND', `blob ${digest} is not in the content store`, { hint: 'pull or load the image again' });
    }
  }

  stream(digest: string): Readable {
    return createReadStream(this.path(digest));
  }

  /** A unique temp path in the store's tmp dir (same filesystem as the blobs). */
  tempPath(tag: string): string {
    return join(this.tmpDir, `${tag}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  }

  /** Stores bytes; returns their digest. */
  async put(data: string | Uint8Array, expected?: string): Promise<BlobInfo> {
    const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
    const digest = sha256Digest(buf);
    if (expected !== undefined && expected !== digest) throw mismatch(expected, digest, 'data');
    if (!this.has(digest)) {
      const tmp = this.tempPath('put');
      const fh = await open(tmp, 'w', 0o644);
      try { await fh.writeFile(buf); await fh.sync(); } finally { await fh.close(); }
      await rename(tmp, this.path(digest));
    }
    return { digest, size: buf.length };
  }

  /**
   * Streams `src` into the store. With `expected`, a mismatch (digest or size)
   * deletes the temp file and throws; nothing half-written is ever visible.
   */
  async putStream(src: Readable, expected?: { digest?: string; size?: number }, what = 'blob'): Promise<BlobInfo> {
    const tmp = this.tempPath('stream');
    const hash = nodeCrypto().createHash('sha256');
    let size = 0;
    const tap = new Transform({ transform(c: Buffer, _e, cb) { hash.update(c); size += c.length; cb(null, c); } });
    try {
      await pipeline(src, tap, createWriteStream(tmp, { mode: 0o644 }));
      const digest = 'sha256:' + hash.digest('hex');
      if (expected?.digest !== undefined && expected.digest !== digest) throw mismatch(expected.digest, digest, what);
      if (expected?.size !== undefined && expected.size !== size) {
        throw new TsstackError('IMAGE', `${what}: size ${size} differs from the expected ${expected.size}`);
      }
      await this.adopt(tmp, digest);
      return { digest, size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Hashes an existing file and moves (or copies, across filesystems) it into the store. */
  async putFile(path: string, opts: { move?: boolean; expected?: string } = {}): Promise<BlobInfo> {
    if (opts.expected !== undefined && this.has(opts.expected)) {
      // Already stored (and verified when it was): no need to hash the copy.
      if (opts.move) await rm(path, { force: true });
      return { digest: opts.expected, size: await this.size(opts.expected) };
    }
    const digest = await hashFile(path);
    if (opts.expected !== undefined && opts.expected !== digest) throw mismatch(opts.expected, digest, path);
    const size = (await stat(path)).size;
    if (this.has(digest)) {
      if (opts.move) await rm(path, { force: true });
    } else if (opts.move) {
      await this.adopt(path, digest).catch(async () => this.putStream(createReadStream(path), { digest }).then(() => rm(path, { force: true })));
    } else {
      await this.putStream(createReadStream(path), { digest });
    }
    return { digest, size };
  }

  /** Renames a verified temp file into place (the caller has checked its digest). */
  async adopt(tmp: string, digest: string): Promise<void> {
    if (this.has(digest)) { await rm(tmp, { force: true }); return; }
    await rename(tmp, this.path(digest));
  }

  async list(): Promise<string[]> {
    return (await readdir(this.blobsDir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`).sort();
  }

  async remove(digest: string): Promise<number> {
    const p = this.path(digest);
    const s = await stat(p).catch(() => undefined);
    await rm(p, { force: true });
    return s?.size ?? 0;
  }
}

export async function hashFile(path: string): Promise<string> {
  const h = nodeCrypto().createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return 'sha256:' + h.digest('hex');
}

function mismatch(expected: string, got: string, what: string): TsstackError {
  return new TsstackError('IMAGE', `${what}: content digest ${got} does not match the expected ${expected}`, {
    hint: 'the source sent corrupt or different content; nothing was stored',
  });
}
