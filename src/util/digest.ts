// SHA-256 digests and random bytes for the commands people type, without node:crypto's
// JavaScript: loading it (16 internal modules) took 4–6 ms of every command here, more than
// all of a command's hashing. Node exports the OpenSSL it is built with (for native addons),
// or links the system's, and has initialised it before any JavaScript runs; either way its
// SHA256 and RAND_bytes are in the process, and koffi (which the engine loads anyway) calls
// them in a microsecond. Where they cannot be found, node:crypto as before: the same bytes.

import { koffi } from './koffi.js';

interface Native {
  sha256(data: Buffer, length: number, out: Buffer): unknown;
  randBytes(out: Buffer, length: number): number;
}

let native: Native | null | undefined;

function openssl(): Native | null {
  if (native !== undefined) return native;
  try {
    const self = koffi().load(null as unknown as string); // the process itself: Node and what it links
    native = {
      sha256: self.func('void *SHA256(const uint8_t *d, size_t n, _Out_ uint8_t *md)') as Native['sha256'],
      randBytes: self.func('int RAND_bytes(_Out_ uint8_t *buf, int num)') as Native['randBytes'],
    };
  } catch {
    native = null;
  }
  return native;
}

/** Whether SHA256 and RAND_bytes were found in the process (tests: this Node does not fall back). */
export function nativeDigests(): boolean {
  return openssl() !== null;
}

/** node:crypto, loaded at the first call: for streamed hashes of image content and what the fast path cannot do. */
export function nodeCrypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}

/** The SHA-256 of `data` (a string as UTF-8), in lower-case hex. */
export function sha256Hex(data: string | Uint8Array): string {
  const n = openssl();
  if (!n) return nodeCrypto().createHash('sha256').update(data).digest('hex');
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const md = Buffer.alloc(32);
  n.sha256(buf, buf.length, md);
  return md.toString('hex');
}

/** `size` bytes from the CSPRNG (OpenSSL's, which node:crypto's randomBytes draws from too). */
export function randomBytes(size: number): Buffer {
  const n = openssl();
  if (n) {
    const out = Buffer.alloc(size);
    if (n.randBytes(out, size) === 1) return out;
  }
  return nodeCrypto().randomBytes(size);
}
