// Intent records: what a multi-step change is about to make, written before its first step and removed
// after its last, so that a command killed half-way (SIGKILL, power cut) leaves a note the next command
// can act on (src/engine/recovery.ts finishes or undoes it). One small file per change under
// `<root>/intents/`: `container-<id>.json`, `network-<name>.json`. An empty directory is the cheap
// "nothing was left half made" check of the no-op `up` fast path (projectIntent).

import { mkdir, mkdirSync, readdirSync, readFileSync, rename, renameSync, rmSync, writeFile, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { inLane, noSpace } from '../util/fs-atomic.js';

export interface Intent {
  kind: 'container' | 'network';
  op: 'create' | 'remove';
  /** Container id or network name. */
  name: string;
  /** The project it belongs to (its label), when it has one. */
  project?: string;
  /** A network's bridge: what to delete when the record is already gone. */
  link?: string;
  /** The writer, so that a change still under way in a live process is left alone. */
  pid: number;
}

const dirOf = (root: string) => join(root, 'intents');
/** The intents this process has written and not ended, by path, with their text: the same one again is not rewritten. */
const ours = new Map<string, string>();
const fileOf = (root: string, kind: string, name: string) => join(dirOf(root), `${kind}-${name}.json`);

/**
 * Records the change before it starts (replacing an older intent for the same object). Written by rename
 * (never torn) but not fsync'd: a killed process's writes stay in the page cache, and what a power cut
 * loses with it (mounts, links, namespaces) is gone too; a record it half wrote is caught by its missing bundle.
 */
export function beginIntent(root: string, intent: Omit<Intent, 'pid'>): void {
  const path = fileOf(root, intent.kind, intent.name);
  const text = JSON.stringify({ ...intent, pid: process.pid }) + '\n';
  if (ours.get(path) === text) return; // this process wrote the same and has not ended it (down's prepareRemoval, then each removal)
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, path);
    ours.set(path, text);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw noSpace(e, path) ?? e;
  }
}

/** beginIntent with its writes on the thread pool (the same steps, in order: awaited before the change's first step). */
export async function beginIntentAsync(root: string, intent: Omit<Intent, 'pid'>): Promise<void> {
  const path = fileOf(root, intent.kind, intent.name);
  const text = JSON.stringify({ ...intent, pid: process.pid }) + '\n';
  if (ours.get(path) === text) return;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    // callback fs, not node:fs/promises (its start-up cost, as fs-atomic.ts)
    const cb = (call: (k: (e: NodeJS.ErrnoException | null) => void) => void) => new Promise<void>((ok, fail) => call((e) => (e ? fail(e) : ok())));
    await inLane(async () => {
      await cb((k) => mkdir(dirname(path), { recursive: true, mode: 0o700 }, (e) => k(e)));
      await cb((k) => writeFile(tmp, text, { mode: 0o600 }, k));
      await cb((k) => rename(tmp, path, k));
    });
    ours.set(path, text);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw noSpace(e, path) ?? e;
  }
}

/** The change is complete (or fully undone). */
export function endIntent(root: string, kind: Intent['kind'], name: string): void {
  const path = fileOf(root, kind, name);
  ours.delete(path);
  rmSync(path, { force: true });
}

/** Every intent left; unreadable ones (a torn write is impossible: written by rename) are skipped. */
export function listIntents(root: string): Intent[] {
  let names: string[];
  try { names = readdirSync(dirOf(root)); } catch { return []; }
  const out: Intent[] = [];
  for (const n of names) {
    if (n.startsWith('.') || !n.endsWith('.json')) continue;
    try { out.push(JSON.parse(readFileSync(join(dirOf(root), n), 'utf8')) as Intent); } catch { /* removed meanwhile */ }
  }
  return out;
}

/**
 * Whether a change of `project` was left unfinished (or is under way): one readdir, usually of an empty
 * directory. Another project's leftovers do not count (that project's own next command recovers them).
 */
export function projectIntent(root: string, project: string): boolean {
  let names: string[];
  try { names = readdirSync(dirOf(root)); } catch { return false; }
  return names.some((n) => n.endsWith('.json') && !n.startsWith('.')) && listIntents(root).some((i) => i.project === project);
}
