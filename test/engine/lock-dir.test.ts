// The lock directory is checked once per process (store/private-dir.ts): an `up` takes a lock some
// thirty times (20 services), and each check walked every directory above it. One removed meanwhile is made again.
import test from 'ava';
import fs, { mkdtempSync, rmSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lock } from '../../src/engine/store/lock.js';

/** How many lstat calls `f` makes. */
async function lstats(f: () => Promise<void>): Promise<number> {
  const orig = fs.lstatSync;
  let n = 0;
  (fs as { lstatSync: unknown }).lstatSync = (...a: Parameters<typeof orig>) => { n++; return orig(...a); };
  syncBuiltinESMExports();
  try {
    await f();
  } finally {
    (fs as { lstatSync: unknown }).lstatSync = orig;
    syncBuiltinESMExports();
  }
  return n;
}

test('a lock directory is checked once per process; one removed meanwhile is made and checked again', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'tsstack-lockdir-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const path = join(base, 'root', 'locks', 'a.lock');
  const take = async () => (await Lock.acquireFile(path)).release();
  const first = await lstats(take);
  const again = await lstats(take);
  t.true(first > again + 2, `lstat: ${first} the first time, ${again} the next`);
  rmSync(join(base, 'root'), { recursive: true });
  await take();
  t.is(statSync(join(base, 'root', 'locks')).mode & 0o777, 0o700, 'made again, private');
});
