// The image store's lock (prune, name updates): a flock'ed file beside the
// engine's other locks (store/lock.ts: private, dropped by the kernel when its
// holder dies, so neither a crash nor a recycled pid leaves it stuck). Callers
// in one process also queue behind each other here, without polling.

// store/lock.ts (and the FFI it takes flock from) is loaded by the first caller only: a cached build takes no lock.

const held = new Map<string, Promise<unknown>>();

/** Runs `fn` holding the lock at `path` (also serialized within this process). */
export async function withLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const prev = held.get(path) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => (await import('../store/lock.js')).withLockFile(path, { timeoutMs, pollMs: 25, label: 'the image store' }, fn));
  held.set(path, run);
  try { return await run; } finally { if (held.get(path) === run) held.delete(path); }
}
