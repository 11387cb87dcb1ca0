// Per-project (and engine-wide) advisory locks: flock(2) on
// `<root>/locks/<name>.lock`, taken with LOCK_NB and polled, so the event loop
// never blocks and a waiting process can say who holds the lock. The kernel
// drops the lock when the holder exits, so a crash never leaves it stuck. The
// holder writes `{pid, command, since}` into the file for the waiter to print.
//
// flock needs only an open file, not write access: a lock file any user can
// open is a lock any user can hold for ever. So lock files are 0600 in a 0700
// directory only root can reach (private-dir.ts), opened without following a
// link; one left readable by an older tsstack is replaced by a new private file
// (a new inode: whoever holds the old one holds nothing), and after taking a
// lock the holder checks the path still names the file it locked.

import koffi from 'koffi';
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import { forgetPrivateDir, privateDir } from './private-dir.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

/** How long a waiter stays quiet: a lock released within this is not worth a line. */
const NOTICE_MS = 500;

let flockFn: ((fd: number, op: number) => number) | undefined;
function flock(fd: number, op: number): number {
  flockFn ??= koffi.load('libc.so.6').func('int flock(int fd, int op)') as (fd: number, op: number) => number;
  return flockFn(fd, op);
}

/** How many times an acquire found a lock held and waited a poll interval (tests assert that none did). */
export const lockPolls = { count: 0 };

export interface LockHolder {
  pid: number;
  command: string;
  since: string;
}

export interface LockOptions {
  /** Wait for the holder (default) or fail at once with CONFLICT. */
  wait?: boolean;
  /** Give up after this long (default: wait forever). */
  timeoutMs?: number;
  pollMs?: number;
  /** Called once when the lock has been busy for a short while (NOTICE_MS), with the holder as recorded. */
  onWait?: (holder: LockHolder | undefined) => void;
  /** Wait this long before onWait (default NOTICE_MS). */
  noticeMs?: number;
  /** What the holder record says this process is doing. */
  command?: string;
  /** What the lock guards, for errors ("project web"); default the lock's name. */
  label?: string;
}

const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/** Opens (making it if needed) the lock file at `path`, which must be a private regular file of ours. */
function openLockFile(path: string): number {
  for (;;) {
    let fd: number;
    try {
      fd = openSync(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new TsstackError('HOST', `lock file ${path} is a symbolic link`, { hint: `remove it; tsstack makes its lock files itself` });
      throw e;
    }
    const st = fstatSync(fd);
    if (st.isFile() && st.uid === (process.geteuid?.() ?? 0) && (st.mode & 0o077) === 0) return fd;
    closeSync(fd);
    if (!st.isFile()) throw new TsstackError('HOST', `lock file ${path} is not a regular file`, { hint: `remove it; tsstack makes its lock files itself` });
    replaceWithPrivate(path);
  }
}

/** Puts a new empty 0600 file at `path` (rename: atomic; a holder of the old file no longer blocks anyone). */
function replaceWithPrivate(path: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.new`);
  rmSync(tmp, { force: true }); // one a killed process of the same pid left
  closeSync(openSync(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600));
  renameSync(tmp, path);
}

/** `fd` is still the file `path` names (not replaced or removed since it was opened). */
function stillAt(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = lstatSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** `pid 1234 (tsstack up -d) since 06:40:01` or a fallback when the holder wrote nothing yet. */
export function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'another tsstack process';
  const since = /T(\d\d:\d\d:\d\d)/.exec(h.since)?.[1];
  return `pid ${h.pid} (${h.command})${since ? ` since ${since} UTC` : ''}`;
}

/** This process as a holder record names it: `tsstack up -d` (its arguments, shortened). */
export function thisCommand(argv = process.argv): string {
  const s = `tsstack ${argv.slice(2).join(' ')}`.trim();
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

export class Lock {
  private constructor(private fd: number | undefined, readonly path: string) {}

  static pathFor(root: string, name: string): string {
    return join(root, 'locks', `${name.replace(/[^a-zA-Z0-9_.-]/g, '_')}.lock`);
  }

  static readHolder(path: string): LockHolder | undefined {
    try {
      const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
      return typeof h?.pid === 'number' ? h : undefined;
    } catch {
      return undefined;
    }
  }

  /** Takes the lock `name` under `root`. */
  static acquire(root: string, name: string, opts: LockOptions = {}): Promise<Lock> {
    return Lock.acquireFile(Lock.pathFor(root, name), { label: name, ...opts });
  }

  /** Takes the lock file at `path` (its directory is made private if missing, refused if unsafe). */
  static async acquireFile(path: string, opts: LockOptions = {}): Promise<Lock> {
    let file = join(privateDir(dirname(path)), basename(path));
    const start = Date.now();
    const noticeMs = opts.noticeMs ?? NOTICE_MS;
    let told = false;
    let fd: number;
    try {
      fd = openLockFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // the directory this process checked is gone (removed meanwhile): made and checked again
      forgetPrivateDir(dirname(path));
      file = join(privateDir(dirname(path)), basename(path));
      fd = openLockFile(file);
    }
    try {
      for (;;) {
        const got = flock(fd, LOCK_EX | LOCK_NB) === 0;
        if (!stillAt(fd, file)) {
          // Replaced (an old world-readable file made private) or removed: lock what the path names now.
          if (got) flock(fd, LOCK_UN);
          closeSync(fd);
          fd = openLockFile(file);
          continue;
        }
        if (got) break;
        const waited = Date.now() - start;
        if (opts.wait === false || (opts.timeoutMs !== undefined && waited >= opts.timeoutMs)) {
          const who = describeHolder(Lock.readHolder(file));
          const gaveUp = opts.wait === false ? '' : `; gave up after ${Math.round(waited / 100) / 10} s`;
          throw new TsstackError('CONFLICT', `the lock of ${opts.label ?? basename(file, '.lock')} is held by ${who}${gaveUp}`, {
            hint: 'wait for that command to finish, then retry',
          });
        }
        if (!told && waited >= noticeMs) {
          opts.onWait?.(Lock.readHolder(file));
          told = true;
        }
        lockPolls.count++;
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    const holder: LockHolder = { pid: process.pid, command: opts.command ?? thisCommand(), since: new Date().toISOString() };
    try {
      ftruncateSync(fd, 0);
      writeSync(fd, JSON.stringify(holder) + '\n', 0);
    } catch {
      // a full disk: the lock holds without its holder's name (a throw here would leave it held by no one's Lock)
    }
    return new Lock(fd, file);
  }

  release(): void {
    if (this.fd === undefined) return;
    try {
      ftruncateSync(this.fd, 0);
    } catch { /* best effort */ }
    flock(this.fd, LOCK_UN);
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Runs `f` holding the lock; always releases. */
export async function withLock<T>(root: string, name: string, opts: LockOptions, f: () => Promise<T>): Promise<T> {
  return withLockFile(Lock.pathFor(root, name), { label: name, ...opts }, f);
}

/** Runs `f` holding the lock file at `path`; always releases. */
export async function withLockFile<T>(path: string, opts: LockOptions, f: () => Promise<T>): Promise<T> {
  const lock = await Lock.acquireFile(path, opts);
  try {
    return await f();
  } finally {
    lock.release();
  }
}
