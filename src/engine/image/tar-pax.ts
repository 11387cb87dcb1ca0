// PAX extended headers with binary-safe xattr values. tar-stream decodes and
// encodes every PAX value as UTF-8 text, which mangles binary extended
// attributes (security.capability, ACLs). These codecs follow the POSIX pax
// record format (`<len> <key>=<value>\n`, len counting bytes) and carry
// `SCHILY.xattr.*` values as binary strings (one char per byte, 'latin1');
// other keys stay UTF-8. Installed into tar-stream once, before first use.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const XATTR_PREFIX = 'SCHILY.xattr.';

const isBinaryKey = (k: string): boolean => k.startsWith(XATTR_PREFIX);

/** Decodes a PAX header block into key → value (xattr values as binary strings). */
export function decodePax(buf: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  while (b.length) {
    const sp = b.indexOf(0x20);
    if (sp <= 0) break;
    const len = parseInt(b.subarray(0, sp).toString('ascii'), 10);
    if (!(len > sp + 1) || len > b.length) break;
    const rec = b.subarray(sp + 1, len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) break;
    const key = rec.subarray(0, eq).toString('utf8');
    out[key] = rec.subarray(eq + 1).toString(isBinaryKey(key) ? 'latin1' : 'utf8');
    b = b.subarray(len);
  }
  return out;
}

function record(key: string, value: string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), Buffer.from(value, isBinaryKey(key) ? 'latin1' : 'utf8'), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

/** Encodes what tar-stream puts in a PAX header: path, linkpath, and the entry's `pax` map. */
export function encodePax(opts: { name?: string; linkname?: string; pax?: Record<string, string> }): Buffer {
  const parts: Buffer[] = [];
  if (opts.name) parts.push(record('path', opts.name));
  if (opts.linkname) parts.push(record('linkpath', opts.linkname));
  for (const [k, v] of Object.entries(opts.pax ?? {})) parts.push(record(k, v));
  return Buffer.concat(parts);
}

let installed = false;

/** Makes tar-stream (extract and pack) use the codecs above. Idempotent. */
export function installBinaryPax(): void {
  if (installed) return;
  const req = createRequire(import.meta.url);
  const dir = dirname(req.resolve('tar-stream/package'));
  const headers = req(join(dir, 'headers.js')) as { decodePax: unknown; encodePax: unknown };
  headers.decodePax = decodePax;
  headers.encodePax = encodePax;
  installed = true;
}
