// Crash-safe file writes: write a temp file beside the target, fsync, rename,
// then fsync the directory so the rename itself survives a crash.
//
// The temp file is created new (O_EXCL) and never through a link (O_NOFOLLOW),
// so a name planted beside the target cannot redirect a root write elsewhere;
// rename() replaces a link at the target itself rather than following it. The
// mode is set with fchmod, so it is the one asked for whatever the umask.

import { closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, writeSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** `mode` defaults to 0644: files the engine bind-mounts into containers (hosts, resolv.conf) must be readable there; the engine dirs above them are 0700. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = openSync(tmp, CREATE_NEW, 0o600);
  try {
    fchmodSync(fd, mode);
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
}

export function writeJsonAtomicSync(path: string, value: unknown, mode?: number): void {
  writeFileAtomicSync(path, JSON.stringify(value, null, 2) + '\n', mode);
}
