// Crash-safe file writes: write a temp file beside the target, fsync, rename,
// then fsync the directory so the rename itself survives a crash.
//
// `durable: false` keeps the temp + rename (a reader, or a command after a kill, sees
// the old or the new file, never part of one) and drops the two fsyncs, which cost
// milliseconds each on a busy disk and block the one JavaScript thread. For files that
// need not outlive a power cut: per-boot state (the run root: DNS state, monitor
// sockets; everything it describes is gone after a reboot), and records written while
// an intent (src/engine/intents.ts) still says their change is unfinished, which the
// change's last durable write makes durable in turn. A file written so may be empty or
// missing after a power cut, never after a kill: readers of per-boot state take an
// empty file for none.
//
// The temp file is created new (O_EXCL) and never through a link (O_NOFOLLOW),
// so a name planted beside the target cannot redirect a root write elsewhere;
// rename() replaces a link at the target itself rather than following it. The
// mode is set with fchmod, so it is the one asked for whatever the umask.
//
// The temp's name carries the writer's pid (`.<name>.<pid>.<random>.tmp`), so a
// temp left by a killed writer is recognised and removed by recovery
// (removeDeadTemps, src/engine/recovery.ts).

// Callback fs, not node:fs/promises: this module is loaded by every command (cli/errors.ts), and
// fs/promises costs ~2 ms of start-up.
import { close as closeCb, closeSync, constants, fchmod as fchmodCb, fchmodSync, fsync as fsyncCb, fsyncSync, mkdir as mkdirCb, open as openCb, openSync, readdirSync, rename as renameCb, renameSync, unlink as unlinkCb, write as writeCb, writeSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { TsstackError } from './errors.js';
import { faultPoint } from './fault.js';

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

let fsyncs = 0;
/** fsyncs made by the writes of this module in this process (files and directories): tests bound them per container. */
export function fsyncCount(): number {
  return fsyncs;
}

/** `mode` defaults to 0644: files the engine bind-mounts into containers (hosts, resolv.conf) must be readable there; the engine dirs above them are 0700. */
export interface AtomicWriteOptions {
  /** fsync the file and its directory (default): the write survives a power cut, not only a kill. */
  durable?: boolean;
}

/** A new temp file beside `path` holding `data` with `mode`, still open (removed again if writing fails). */
function openTemp(path: string, data: string | Uint8Array, mode: number): { dir: string; tmp: string; fd: number } {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, CREATE_NEW, 0o600);
  } catch (e) {
    // the directory made only when missing: a mkdir -p before every write cost two failing calls
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    fd = openSync(tmp, CREATE_NEW, 0o600);
  }
  try {
    fchmodSync(fd, mode);
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } catch (e) {
    dropTemp(fd, tmp);
    throw e;
  }
  return { dir, tmp, fd };
}

function dropTemp(fd: number, tmp: string): void {
  closeSync(fd);
  try { unlinkSync(tmp); } catch { /* already gone */ }
}

export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o644, opts: AtomicWriteOptions = {}): void {
  const durable = opts.durable !== false;
  const { dir, tmp, fd } = openTemp(path, data, mode);
  try {
    if (durable) timedFsync(fd);
    faultPoint('atomic.written');
  } catch (e) {
    dropTemp(fd, tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  if (!durable) return;
  const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { timedFsync(dfd); } finally { closeSync(dfd); }
}

/**
 * An fsync longer than this on the one thread sends the later durable writes of writeFileAtomic to the
 * thread pool, where those of several containers wait for the disk side by side (ext4 commits them
 * together). Shorter ones cost the thread less than a pool round trip does (below).
 */
const SLOW_FSYNC_NS = 1_000_000n;
let fsyncSlow = false;

/** Where durable writeFileAtomic calls run: inline until an fsync proves slow (`auto`), or always `inline` or on the `pool` (tests of each way). */
export type DurableWrites = 'auto' | 'inline' | 'pool';
let durableWrites: DurableWrites = 'auto';
export function setDurableWrites(mode: DurableWrites): void {
  durableWrites = mode;
}
const durablePooled = () => durableWrites === 'pool' || (durableWrites === 'auto' && fsyncSlow);

function timedFsync(fd: number): void {
  const t0 = process.hrtime.bigint();
  fsyncSync(fd);
  fsyncs++;
  if (process.hrtime.bigint() - t0 > SLOW_FSYNC_NS) fsyncSlow = true;
}

/**
 * writeFileAtomicSync as a promise, for the engine's writes while other work is under way (an `up`'s
 * containers). Its steps run on the one JavaScript thread, in order, the same as writeFileAtomicSync's,
 * so a reader or a crash sees exactly what it would after the synchronous write. They used to run on
 * libuv's thread pool, so that the thread would serve other containers meanwhile; but on this 2-core VM
 * a round trip through the pool (waking a pool thread, then the event loop: ~80–250 µs, mostly the
 * wake-ups) costs more than the call it carries (a mkdir, write or rename: 15–50 µs; an fsync ~0.3 ms),
 * and the pool's threads creating and renaming in one directory at once contend for its lock in the
 * kernel. Measured interleaved with these writes and the create path's other small file calls inline
 * (src/util/fs-now.ts): `run --rm` 0.92, `up -d` of 20 0.93–0.99 (2026-12-07; docs/performance.md). Only
 * fsyncs that prove slow (a busy or rotating disk: SLOW_FSYNC_NS) go back to the pool, where several
 * wait side by side. `durable: false` drops the fsyncs as writeFileAtomicSync does.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, opts: AtomicWriteOptions = {}): Promise<void> {
  if (opts.durable === false || !durablePooled()) return writeFileAtomicSync(path, data, mode, opts);
  return writeFileAtomicPooled(path, data, mode);
}

/** A durable writeFileAtomicSync with every step on the thread pool (fsyncs found slow). */
async function writeFileAtomicPooled(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  await cb<string | undefined>((k) => mkdirCb(dir, { recursive: true, mode: 0o755 }, k));
  const fd = await cb<number>((k) => openCb(tmp, CREATE_NEW, 0o600, k));
  try {
    try {
      await cb<void>((k) => fchmodCb(fd, mode, k));
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      for (let off = 0; off < buf.length;) off += await cb<number>((k) => writeCb(fd, buf, off, buf.length - off, null, k));
      await fsyncOff(fd);
      faultPoint('atomic.written');
    } finally {
      await new Promise<void>((resolve) => closeCb(fd, () => resolve()));
    }
  } catch (e) {
    await new Promise<void>((resolve) => unlinkCb(tmp, () => resolve())); // (already gone: nothing to do)
    throw e;
  }
  await cb<void>((k) => renameCb(tmp, path, k));
  await syncDir(dir);
}

/** A callback-style fs call as a promise (node:fs/promises costs start-up; see the import). */
export function cb<T>(call: (k: (e: NodeJS.ErrnoException | null, v?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => call((e, v) => (e ? reject(e) : resolve(v as T))));
}

export function writeJsonAtomic(path: string, value: unknown, mode?: number, opts?: AtomicWriteOptions): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n', mode, opts);
}

/** fsync of an open descriptor on the thread pool (fs.fsync: the descriptor stays the caller's to close). */
function fsyncOff(fd: number): Promise<void> {
  fsyncs++;
  return new Promise((resolve, reject) => fsyncCb(fd, (e) => (e ? reject(e) : resolve())));
}

/** fsync of a directory (the renames and creations in it) on the thread pool. */
export async function syncDir(dir: string): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => openCb(dir, constants.O_RDONLY | constants.O_DIRECTORY, (e, fd) => (e ? reject(e) : resolve(fd))));
  try {
    await fsyncOff(fd);
  } finally {
    await new Promise<void>((resolve) => closeCb(fd, () => resolve()));
  }
}

export function writeJsonAtomicSync(path: string, value: unknown, mode?: number, opts?: AtomicWriteOptions): void {
  writeFileAtomicSync(path, JSON.stringify(value, null, 2) + '\n', mode, opts);
}

/**
 * A full disk or quota as an error for people (naming the file when known, saying what to do); undefined
 * for other errors. Not a bug: the command can be run again once there is space, and continues.
 */
export function noSpace(e: unknown, path = (e as NodeJS.ErrnoException | undefined)?.path): TsstackError | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return undefined;
  const why = code === 'ENOSPC' ? 'the file system is full' : 'disk quota exceeded';
  return new TsstackError('HOST', `no space left ${path ? `to write ${path}` : 'on a file system tsstack writes to'} (${why})`, {
    hint: `free space on the file system that holds ${path ? dirname(path) : 'the engine root (--root, TSSTACK_ROOT; default /var/lib/tsstack)'}, then run the command again: it continues where it stopped`,
    cause: e,
  });
}

/** The pid of the writer of a temp file named by writeFileAtomicSync; undefined for any other name. */
export function tempWriter(name: string): number | undefined {
  const m = /^\..+\.(\d+)\.[0-9a-z]+\.tmp$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temp files in `dir` whose writer is no longer running; returns their names. Never throws. */
export function removeDeadTemps(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const out: string[] = [];
  for (const n of names) {
    const pid = tempWriter(n);
    if (pid === undefined || alive(pid)) continue;
    try { unlinkSync(join(dir, n)); out.push(n); } catch { /* gone meanwhile */ }
  }
  return out;
}

/** Whether a process with this pid runs (also when it is not ours to signal). */
export { alive as pidAlive };
