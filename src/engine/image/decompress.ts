// Layer streams: compression is detected from the first bytes (gzip, zstd or
// plain tar), whatever the media type claims, as Docker does.

import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

export function detectFileCompression(path: string): Compression {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    return detectCompression(b.subarray(0, n));
  } finally { closeSync(fd); }
}

/** A zstd decoder as a Node Transform (fzstd is pure JS and streaming). */
export function createZstdDecompress(): Transform {
  let z: Decompress;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try { z.push(chunk); cb(); } catch (e) { cb(e as Error); }
    },
    flush(cb) {
      try { z.push(new Uint8Array(0), true); cb(); } catch (e) { cb(e as Error); }
    },
  });
  // fzstd may reuse its window buffer between callbacks: copy each chunk out.
  z = new Decompress((data) => { t.push(Buffer.from(data)); });
  return t;
}

export function decompressor(c: Compression): Transform | undefined {
  if (c === 'gzip') return createGunzip({ chunkSize: 256 << 10 });
  if (c === 'zstd') return createZstdDecompress();
  return undefined;
}

/** The uncompressed tar stream of a layer file. Errors of either stage surface on the returned stream. */
export function openTarStream(path: string): Readable {
  const c = detectFileCompression(path);
  const src = createReadStream(path, { highWaterMark: 1 << 20 });
  const d = decompressor(c);
  if (!d) return src;
  src.on('error', (e) => d.destroy(e));
  return src.pipe(d);
}
