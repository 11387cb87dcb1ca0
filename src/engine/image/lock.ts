// A lock file for the image store (prune, name updates): created with O_EXCL
// holding the owner's pid; a lock whose owner is dead is taken over. Waiters poll.

import { open, readFile, rm } from 'node:fs/promises';
import { TsstackError } from '../../util/errors.js';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

const held = new Map<string, Promise<unknown>>();

/** Runs `fn` holding the lock at `path` (also serialized within this process). */
export async function withLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const prev = held.get(path) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    await acquire(path, timeoutMs);
    try { return await fn(); } finally { await rm(path, { force: true }); }
  });
  held.set(path, run);
  try { return await run; } finally { if (held.get(path) === run) held.delete(path); }
}

async function acquire(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (pid > 0 && !alive(pid)) { await rm(path, { force: true }); continue; }
    if (Date.now() > deadline) {
      throw new TsstackError('CONFLICT', `image store lock ${path} is held by process ${pid || '?'}`, { hint: 'wait for the other tsstack command to finish' });
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
