// ADD's local archive auto-extraction: a tar, plain or compressed with gzip,
// bzip2, xz or zstd, recognized by its first bytes (never by its name), is
// unpacked into a private directory with the image store's safe unpacker
// (nothing may escape it), then copied like a directory source.

import { spawn } from 'node:child_process';
import { open, mkdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { openTarStream } from '../decompress.js';
import { unpackLayer } from '../unpack.js';

type Kind = 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

async function head(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const { bytesRead } = await fh.read(b, 0, n, 0);
    return b.subarray(0, bytesRead);
  } finally { await fh.close(); }
}

export async function archiveKind(path: string): Promise<Kind | undefined> {
  const b = await head(path, 512);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 3 && b.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (b.length >= 262 && b.toString('latin1', 257, 262) === 'ustar') return 'tar';
  return undefined;
}

export async function isArchive(path: string): Promise<boolean> {
  return (await archiveKind(path)) !== undefined;
}

function viaProcess(cmd: string, path: string): Readable {
  const p = spawn(cmd, ['-dc', path], { stdio: ['ignore', 'pipe', 'ignore'] });
  p.on('error', (e) => p.stdout.destroy(e));
  return p.stdout;
}

/** Unpacks the archive at `path` into `dest` (created; must not exist or be empty). */
export async function extractArchive(path: string, dest: string): Promise<void> {
  const kind = await archiveKind(path);
  await mkdir(dest, { recursive: true });
  const stream = kind === 'bzip2' ? viaProcess('bzip2', path) : kind === 'xz' ? viaProcess('xz', path) : openTarStream(path);
  await unpackLayer(stream, dest, path);
}
