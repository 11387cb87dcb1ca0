// Per-project (and engine-wide) advisory locks: flock(2) on
// `<root>/locks/<name>.lock`, taken with LOCK_NB and polled, so the event loop
// never blocks and a waiting process can say who holds the lock. The kernel
// drops the lock when the holder exits, so a crash never leaves it stuck. The
// holder writes `{pid, command, since}` into the file for the waiter to print.

import koffi from 'koffi';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TsstackError } from '../../util/errors.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

let flockFn: ((fd: number, op: number) => number) | undefined;
function flock(fd: number, op: number): number {
  flockFn ??= koffi.load('libc.so.6').func('int flock(int fd, int op)') as (fd: number, op: number) => number;
  return flockFn(fd, op);
}

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
  /** Called once when the lock is busy, with the holder as recorded. */
  onWait?: (holder: LockHolder | undefined) => void;
  command?: string;
}

export class Lock {
  private constructor(private fd: number | undefined, readonly path: string) {}

  static pathFor(root: string, name: string): string {
    return join(root, 'locks', `${name.replace(/[^a-zA-Z0-9_.-]/g, '_')}.lock`);
  }

  static readHolder(path: string): LockHolder | undefined {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    } catch {
      return undefined;
    }
  }

  /** Takes the lock `name` under `root`. */
  static async acquire(root: string, name: string, opts: LockOptions = {}): Promise<Lock> {
    const path = Lock.pathFor(root, name);
    mkdirSync(join(root, 'locks'), { recursive: true });
    const fd = openSync(path, 'a+');
    const start = Date.now();
    let told = false;
    for (;;) {
      if (flock(fd, LOCK_EX | LOCK_NB) === 0) break;
      const holder = Lock.readHolder(path);
      const who = holder ? `pid ${holder.pid} (${holder.command}) since ${holder.since}` : 'another tsstack process';
      if (opts.wait === false || (opts.timeoutMs !== undefined && Date.now() - start > opts.timeoutMs)) {
        closeSync(fd);
        throw new TsstackError('CONFLICT', `${name} is locked by ${who}`, { hint: 'wait for the other tsstack command to finish, then retry' });
      }
      if (!told) {
        opts.onWait?.(holder);
        told = true;
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    }
    const holder: LockHolder = { pid: process.pid, command: opts.command ?? process.argv.slice(1).join(' '), since: new Date().toISOString() };
    try {
      ftruncateSync(fd, 0);
      writeSync(fd, JSON.stringify(holder) + '\n', 0);
    } catch {
      // a full disk: the lock holds without its holder's name (a throw here would leave it held by no one's Lock)
    }
    return new Lock(fd, path);
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
  const lock = await Lock.acquire(root, name, opts);
  try {
    return await f();
  } finally {
    lock.release();
  }
}
