// Removing a container's directories (a few dozen small files: records, bundle, the overlay's
// upper and work dirs, the monitor's socket). `fs.promises.rm` hops to the thread pool and back
// for every entry (~3 ms a container, the containers of a `down` queued behind one another on a
// busy 2-core host) and `fs.rmSync`'s walk costs ~10 ms; a walk with readdir's types, unlink and
// rmdir costs ~0.2 ms. A tree bigger than that (a container that wrote many files) goes to the
// thread pool after all, so one big upper dir never holds the event loop the other removals share.

import { readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { rm } from '../../util/fs-async.js';
import { join } from 'node:path';

/** Entries removed synchronously before the rest goes to `fs.promises.rm`. */
const SYNC_ENTRIES = 256;

/**
 * Removes `dir` and everything below it, as `rm -rf` (a symbolic link is removed, never followed);
 * nothing there is no error. The caller has unmounted what was mounted below it (unmountTree).
 */
export async function removeTree(dir: string, limit = SYNC_ENTRIES): Promise<void> {
  try {
    if (removeSmall(dir, { left: limit })) return;
  } catch {
    // whatever went wrong (a file that came meanwhile, an entry that cannot go), rm below says it or does it
  }
  await rm(dir, { recursive: true, force: true });
}

/** Removes `dir` when it holds no more than `budget.left` entries in all; false (part removed) otherwise. */
function removeSmall(dir: string, budget: { left: number }): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
    unlinkSync(dir);
    return true;
  }
  if (entries.length > budget.left) return false;
  for (const e of entries) {
    budget.left--;
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!removeSmall(path, budget)) return false;
    } else {
      unlinkSync(path);
    }
  }
  rmdirSync(dir);
  return true;
}
