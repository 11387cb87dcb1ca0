// The build cache: step key → resulting layer, one JSON file per key under
// <root>/build-cache/. A key hashes the parent chain and what the step does
// (RUN: argv, env, user, workdir; COPY/ADD: content digest of the sources,
// destination, owner, mode). An entry whose layer is gone is a miss.

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomicSync } from '../../../util/fs-atomic.js';
import { canonicalJson } from '../oci.js';
import type { BuildLayer, BuildStore } from './store.js';

export interface CacheEntry {
  /** The layer the step made; absent when the step changed nothing (empty layer). */
  layer?: BuildLayer;
  created: string;
}

export function cacheKey(parts: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

export class BuildCache {
  readonly dir: string;

  constructor(private readonly store: BuildStore) {
    this.dir = join(store.root, 'build-cache');
  }

  get(key: string): CacheEntry | undefined {
    let e: CacheEntry;
    try { e = JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8')) as CacheEntry; } catch { return undefined; }
    if (e.layer && !(this.store.layers.has(e.layer.chainId) && this.store.content.has(e.layer.digest))) return undefined;
    return e;
  }

  put(key: string, entry: CacheEntry): void {
    writeJsonAtomicSync(join(this.dir, `${key}.json`), entry);
  }
}

/** Chains and blobs the cache refers to, for ImageStore's `keep` option (prune keeps them). */
export function buildCacheKeepSet(root: string): { chainIds: string[]; blobs: string[] } {
  const dir = join(root, 'build-cache');
  const chainIds: string[] = [];
  const blobs: string[] = [];
  let names: string[] = [];
  try { names = readdirSync(dir); } catch { return { chainIds, blobs }; }
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    try {
      const e = JSON.parse(readFileSync(join(dir, n), 'utf8')) as CacheEntry;
      if (e.layer) { chainIds.push(e.layer.chainId); blobs.push(e.layer.digest); }
    } catch { /* being written */ }
  }
  return { chainIds, blobs };
}
