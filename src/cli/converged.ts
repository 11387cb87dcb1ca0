// The converged-`up` cache: lets a no-op `up -d` answer "up to date" without
// opening the engine, observing, deriving and diffing again.
//
// Sound by construction, like model-cache.ts: an entry records that a plan made
// from an observation was empty, keyed by everything else the plan depends on
// (the model, the flags, the environment, the engine paths, tsstack's own build)
// and fingerprinted by what observation reads — the stamps of the engine's state
// files and the liveness of the monitor processes they name. It is used only
// while that fingerprint is unchanged (a check of stats and /proc, no parsing);
// any doubt is a miss, and a miss is just the ordinary path. TSSTACK_NO_CACHE=1
// turns it off.
//
// The fingerprint is the engine's (api.ts `Engine.stateFingerprint`, asked through
// engine.ts `stateFingerprintOf` without opening the engine): it knows which of its
// files and host facts observation depends on; this module only keys, records and
// compares, and reads nothing of the engine's but its own cache file.

import { sha256Hex } from '../util/digest.js';
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StateFingerprint } from '../engine/api.js';
import { stateFingerprintOf } from '../engine/engine.js';
import { list, RACY_MS } from '../engine/fingerprint.js';
import { readOr } from '../util/read-or.js';
import type { StackModel } from '../model/types.js';
import { codeStampOf, modelDigest, VOLATILE as VOLATILE_ENV } from './model-cache.js';
import { BUNDLE_FILE } from './code-identity.js';

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
  pids: number[];
}


/** The engine's fingerprint, read in full (the pids from its files): for recording. `stamps`: as fingerprint.ts (tests). */
export async function snapshot(root: string, runRoot: string, opts?: { stamps?: 'fine' | 'coarse' }): Promise<StateFingerprint> {
  return stateFingerprintOf({ root, runRoot }, opts);
}

/** Size and mtime of tsstack's own compiled files that make plans: a rebuild is a miss. */
function codeStamp(): string[] {
  if (BUNDLE_FILE) return [`bundle:${codeStampOf(BUNDLE_FILE)}`];
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
  return sha256Hex(JSON.stringify([i.root, i.runRoot, i.request, env, codeStamp(), modelDigest(i.model)]));
}

function pathOf(i: ConvergedInput): string {
  return join(i.root, 'cache', 'converged', `${i.model.name}.json`);
}

/** The recorded outcome when the project is still converged for this exact input; else undefined. Stat-only. */
export async function convergedOutcome(i: ConvergedInput): Promise<ConvergedOutcome | undefined> {
  const text = readOr(pathOf(i));
  if (!text) return undefined;
  let e: Entry;
  try {
    e = JSON.parse(text) as Entry;
  } catch {
    return undefined;
  }
  if (e.key !== keyOf(i) || !Array.isArray(e.pids)) return undefined;
  if ((await stateFingerprintOf(i, { pids: e.pids })).digest !== e.state) return undefined;
  return { warnings: e.warnings, plan: e.plan };
}

/**
 * The fingerprint a plan about to be recorded must be made after: not racy, so that any change
 * from here on shows in the stamps. Right after a change, on a file system whose stamps are coarse
 * (stamp-grain.ts), that means waiting out what is left of the racy window first.
 */
export async function settledSnapshot(root: string, runRoot: string): Promise<StateFingerprint> {
  const now = await snapshot(root, runRoot);
  if (!now.racy) return now;
  await new Promise((r) => setTimeout(r, Math.min(now.racyForMs, RACY_MS) + 1));
  return snapshot(root, runRoot);
}

/**
 * Whether the engine's state is what `before` found: not racy then, and the same digest now. What a plan
 * observed is all in it, so a plan made after `before` and made again now would be the same. Looked at with
 * the pids `before` found: if any container's files changed, their directory's stamps did (replaced by
 * rename) and the digest differs anyway; if none did, they name the same pids (40 reads fewer after an `up`
 * of 20).
 */
export async function unchangedSince(root: string, runRoot: string, before: StateFingerprint): Promise<boolean> {
  if (before.racy) return false;
  return (await stateFingerprintOf({ root, runRoot }, { pids: before.pids })).digest === before.digest;
}

/**
 * Records that a plan made for `i` was empty. `before` is the snapshot taken
 * before that plan observed: the entry is written only if it was not racy (a change
 * after it shows in the stamps) and the state is still the same now, so a change
 * made meanwhile (a concurrent `up`, a monitor that died) is never vouched for.
 */
export async function recordConverged(i: ConvergedInput, before: StateFingerprint, outcome: ConvergedOutcome): Promise<void> {
  if (!(await unchangedSince(i.root, i.runRoot, before))) return;
  const path = pathOf(i);
  // No fsync: a torn or lost cache file after a crash is a miss, never a wrong answer.
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ key: keyOf(i), state: before.digest, pids: before.pids, ...outcome } satisfies Entry));
    renameSync(tmp, path);
  } catch { /* an unwritable cache is a miss next time */ }
}
