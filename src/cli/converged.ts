// The converged-`up` cache: lets a no-op `up -d` answer "up to date" without
// opening the engine, observing, deriving and diffing again.
//
// Sound by construction, like model-cache.ts: an entry records that a plan made
// from an observation was empty, keyed by everything else the plan depends on
// (the model, the flags, the environment, the engine paths, tsstack's own build)
// and fingerprinted by a digest of exactly what observation reads — the engine's
// state files and the liveness of the monitor processes they name. It is used
// only while that digest is unchanged; any doubt is a miss, and a miss is just
// the ordinary path. TSSTACK_NO_CACHE=1 turns it off.
//
// The state files digested (a part that moves its state must update this list):
//   <root>/containers/<id>/{container.json,state.json}   containers.list()
//   <root>/volumes/<name>/meta.json                      volumes.list()/inspect()
//   <root>/images/*                                      images.inspect() (blobs are content-addressed)
//   <root>/networks/*                                    networks.list()/inspect()
//   /proc/<pid>/{stat,comm} of every pid those files name (monitor liveness)

import { createHash, type Hash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StackModel } from '../model/types.js';
import { VOLATILE as VOLATILE_ENV } from './model-cache.js';


export interface ConvergedInput {
  root: string;
  runRoot: string;
  model: StackModel;
  /** Services named on the command line and every flag that shapes the plan. */
  request: Record<string, unknown>;
  env: Record<string, string | undefined>;
}

/** What a hit replays: the empty plan's warnings and its JSON form. */
export interface ConvergedOutcome {
  warnings: string[];
  plan: unknown;
}

interface Entry extends ConvergedOutcome {
  key: string;
  state: string;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Adds a file's path and content (or its absence) to the digest; returns the content. */
function addFile(h: Hash, path: string): string | undefined {
  const text = readOr(path);
  h.update(`${path}\0${text === undefined ? '-' : `+${text.length}\0${text}`}\0`);
  return text;
}

/** Is `pid` alive (not a zombie), since when, and as what: the inputs of the engine's liveness checks. */
function addPid(h: Hash, pid: number): void {
  const stat = readOr(`/proc/${pid}/stat`);
  let fact = '-';
  if (stat) {
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    // fields[0] is the state (R/S/D flicker; only zombie-or-dead matters); fields[19] the start time
    fact = `${fields[0] === 'Z' || fields[0] === 'X' ? 'dead' : 'live'}:${fields[19]}:${(readOr(`/proc/${pid}/comm`) ?? '').trim()}`;
  }
  h.update(`pid ${pid}=${fact}\0`);
}

const PID_RE = /"(?:monitorPid|pid)"\s*:\s*(\d+)/g;

/** A digest of the engine state observation reads (see the list at the top). */
export function stateDigest(root: string): string {
  const h = createHash('sha256');
  const cdir = join(root, 'containers');
  for (const id of list(cdir)) {
    h.update(`container ${id}\0`);
    const pids = new Set<number>();
    for (const f of ['container.json', 'state.json']) {
      const text = addFile(h, join(cdir, id, f));
      if (text) for (const m of text.matchAll(PID_RE)) pids.add(Number(m[1]));
    }
    for (const pid of [...pids].sort((a, b) => a - b)) addPid(h, pid);
  }
  const vdir = join(root, 'volumes');
  for (const v of list(vdir)) addFile(h, join(vdir, v, 'meta.json'));
  for (const part of ['images', 'networks']) {
    const dir = join(root, part);
    for (const f of list(dir)) if (f !== '.lock' && !f.endsWith('.tmp')) addFile(h, join(dir, f));
  }
  return h.digest('hex');
}

/** Size and mtime of tsstack's own compiled files that make plans: a rebuild is a miss. */
function codeStamp(): string[] {
  const base = fileURLToPath(new URL('../', import.meta.url));
  const out: string[] = [];
  for (const d of ['cli', 'cli/commands', 'reconcile', 'engine', 'engine/runtime', 'engine/image', 'engine/network', 'engine/dns', 'model', 'util']) {
    for (const f of list(join(base, d))) {
      if (!f.endsWith('.js')) continue;
      try {
        const s = statSync(join(base, d, f));
        out.push(`${d}/${f}:${s.size}:${s.mtimeMs}:${s.ino}`);
      } catch { /* vanished mid-listing: the stamp differs next time anyway */ }
    }
  }
  return out;
}

function keyOf(i: ConvergedInput): string {
  const env = Object.entries(i.env).filter(([k, v]) => v !== undefined && !VOLATILE_ENV.has(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify([i.root, i.runRoot, i.request, env, codeStamp(), i.model])).digest('hex');
}

function pathOf(i: ConvergedInput): string {
  return join(i.root, 'cache', 'converged', `${i.model.name}.json`);
}

/** The recorded outcome when the project is still converged for this exact input; else undefined. */
export function convergedOutcome(i: ConvergedInput): ConvergedOutcome | undefined {
  const text = readOr(pathOf(i));
  if (!text) return undefined;
  let e: Entry;
  try {
    e = JSON.parse(text) as Entry;
  } catch {
    return undefined;
  }
  if (e.key !== keyOf(i) || e.state !== stateDigest(i.root)) return undefined;
  return { warnings: e.warnings, plan: e.plan };
}

/**
 * Records that a plan made for `i` was empty. `stateBefore` is the digest taken
 * before that plan observed: the entry is written only if the state is still the
 * same now, so a change made meanwhile (a concurrent `up`) is never vouched for.
 */
export function recordConverged(i: ConvergedInput, stateBefore: string, outcome: ConvergedOutcome): void {
  const state = stateDigest(i.root);
  if (state !== stateBefore) return;
  const path = pathOf(i);
  // No fsync: a torn or lost cache file after a crash is a miss, never a wrong answer.
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ key: keyOf(i), state, ...outcome } satisfies Entry));
    renameSync(tmp, path);
  } catch { /* an unwritable cache is a miss next time */ }
}
