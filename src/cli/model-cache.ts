// A cache of loaded stack models, so a command on an unchanged stack (the
// no-op `up`, `ps`, `plan`) does not parse, merge and validate it again.
//
// Sound by construction: an entry is keyed by everything loadStack reads
// besides files (options, working directory, the whole environment, the
// loader's own build), and is used only when every file the load read still
// has the same size, mtime and inode, and every file the load looked for and
// did not find (stack files up the tree, override files, `.env`) is still
// absent. Any doubt is a miss. TSSTACK_NO_CACHE=1 turns it off.

import { sha256Hex } from '../util/digest.js';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { StackModel } from '../model/types.js';

const NAMES = ['stack.yaml', 'stack.yml', 'compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml',
  'stack.override.yaml', 'stack.override.yml', 'compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];
/** Variables that change between shell commands (or benchmark runs: hyperfine sets the last) without meaning anything to a stack. */
export const VOLATILE = new Set(['_', 'OLDPWD', 'HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET']);

interface Stamp {
  path: string;
  /** `size:mtimeMs:ino:sha256`, or `-` for absent. */
  stamp: string;
}

interface Entry {
  files: Stamp[];
  model: StackModel;
  /** modelDigest(model), made when the entry was: a hit need not serialise and hash the model again. */
  digest?: string;
}

const digests = new WeakMap<StackModel, string>();

/** A digest of the whole model (for keys that depend on all of it: converged.ts); remembered per object. */
export function modelDigest(model: StackModel): string {
  let d = digests.get(model);
  if (d === undefined) digests.set(model, (d = sha256Hex(JSON.stringify(model))));
  return d;
}

/** Size, mtime, inode and (files are small) a digest of the content: two saves within one clock tick still differ. */
function stampOf(path: string): string {
  try {
    // most candidates are absent (compose.yaml, docker-compose.yml, .env, …): no exception for those
    const s = statSync(path, { throwIfNoEntry: false });
    if (!s) return '-';
    const digest = s.isFile() && s.size < 1 << 20 ? sha256Hex(readFileSync(path)) : '';
    return `${s.size}:${s.mtimeMs}:${s.ino}:${digest}`;
  } catch {
    return '-';
  }
}

export function codeStampOf(path: string): string {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}:${s.ino}`;
  } catch {
    return '-';
  }
}

export interface CacheInput {
  root: string;
  options: Record<string, unknown>;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Files whose change means new loader code (its build). */
  codeFiles: string[];
}

function keyOf(i: CacheInput): string {
  const env = Object.entries(i.env).filter(([k, v]) => v !== undefined && !VOLATILE.has(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  // Code files: size, mtime and inode (no digest: a rebuild rewrites them, it never lands within the tick that wrote the entry).
  const code = i.codeFiles.map((f) => `${f}=${codeStampOf(f)}`);
  return sha256Hex(JSON.stringify([i.options, i.cwd, env, code]));
}

function pathOf(i: CacheInput): string {
  return join(i.root, 'cache', 'models', `${keyOf(i)}.json`);
}

/** The cached model, when nothing it was made from has changed. */
export function cachedModel(i: CacheInput): StackModel | undefined {
  let entry: Entry;
  try {
    entry = JSON.parse(readFileSync(pathOf(i), 'utf8')) as Entry;
  } catch {
    return undefined;
  }
  for (const f of entry.files) if (stampOf(f.path) !== f.stamp) return undefined;
  // the digest was made of this same JSON, parsed back: the model is equal to the one it was made of
  if (typeof entry.digest === 'string') digests.set(entry.model, entry.digest);
  return entry.model;
}

/** Records `model` with the stamps of what it was read from and what was looked for. */
export function storeModel(i: CacheInput, model: StackModel, probed: { explicitFiles: boolean; explicitEnvFiles: boolean; startDir: string }): void {
  const paths = new Set(model.sourceFiles);
  if (!probed.explicitFiles) {
    for (let d = resolve(probed.startDir); ; d = dirname(d)) {
      for (const n of NAMES) paths.add(join(d, n));
      if (model.sourceFiles.some((f) => dirname(f) === d) || dirname(d) === d) break;
    }
  }
  if (!probed.explicitEnvFiles) paths.add(join(model.workingDir, '.env'));
  const files = [...paths].sort().map((path) => ({ path, stamp: stampOf(path) }));
  try {
    // temp + rename, no fsync: a torn or lost entry after a crash is a miss, never a wrong model
    const path = pathOf(i);
    // 0700/0600: a model holds the stack's environment (and values of environment-sourced secrets)
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ files, model, digest: modelDigest(model) } satisfies Entry), { mode: 0o600 });
    renameSync(tmp, path);
  } catch { /* a cache that cannot be written is just a miss next time */ }
}
