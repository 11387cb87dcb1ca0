// Intent records: what a multi-step change is about to make, written before its first step and removed
// after its last, so that a command killed half-way (SIGKILL, power cut) leaves a note the next command
// can act on (src/engine/recovery.ts finishes or undoes it). One small file per change under
// `<root>/intents/`: `container-<id>.json`, `network-<name>.json`. An empty directory is the cheap
// "nothing was left half made" check of the no-op `up` fast path (projectIntent).

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { noSpace } from '../util/fs-atomic.js';

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
 * What beginIntent writes: the intent's path, its text and a temp name beside it; undefined when this
 * process wrote the same and has not ended it (down's prepareRemoval, then each removal).
 */
function toWrite(root: string, intent: Omit<Intent, 'pid'>): { path: string; text: string; tmp: string } | undefined {
  const path = fileOf(root, intent.kind, intent.name);
  const text = JSON.stringify({ ...intent, pid: process.pid }) + '\n';
  if (ours.get(path) === text) return undefined;
  return { path, text, tmp: join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`) };
}

/** A write that failed: its temp goes, and a full disk is said for people. */
function failed(w: { path: string; tmp: string }, e: unknown): never {
  rmSync(w.tmp, { force: true });
  throw noSpace(e, w.path) ?? e;
}

/**
 * Records the change before it starts (replacing an older intent for the same object). Written by rename
 * (never torn) but not fsync'd: a killed process's writes stay in the page cache, and what a power cut
 * loses with it (mounts, links, namespaces) is gone too; a record it half wrote is caught by its missing bundle.
 */
export function beginIntent(root: string, intent: Omit<Intent, 'pid'>): void {
  const w = toWrite(root, intent);
  if (!w) return;
  try {
    mkdirSync(dirname(w.path), { recursive: true, mode: 0o700 });
    writeFileSync(w.tmp, w.text, { mode: 0o600 });
    renameSync(w.tmp, w.path);
  } catch (e) {
    failed(w, e);
  }
  ours.set(w.path, w.text);
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
