// Image records (<root>/images/<id-hex>.json) and the name table
// (<root>/images/names.json: normalized name → image id). Records are written
// to temp + rename; the name table is changed only under the store lock.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeJsonAtomicSync } from '../../util/fs-atomic.js';
import { digestHex } from './oci.js';

export interface LayerRef {
  /** Blob digest (compressed form as stored). */
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
}

export interface ImageRecord {
  /** Config digest, the image id. */
  id: string;
  /** Digest of the manifest blob describing it. */
  digest: string;
  manifestMediaType: string;
  layers: LayerRef[];
  /** Chain ids, bottom first. */
  chainIds: string[];
  /** `repository@digest` forms it was pulled or loaded as. */
  repoDigests: string[];
  /** Index blobs kept because they referenced it (pulled multi-platform images). */
  indexDigests: string[];
  /** Bytes of unpacked file content over all layers. */
  size: number;
  created?: string;
  /** When this store first got it. */
  added: string;
}

export class Records {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'images');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Beside the engine's other locks, in the private `<root>/locks` (store/lock.ts). */
  get lockPath(): string {
    return join(dirname(this.dir), 'locks', 'images.lock');
  }

  get(id: string): ImageRecord | undefined {
    try { return JSON.parse(readFileSync(join(this.dir, `${digestHex(id)}.json`), 'utf8')) as ImageRecord; } catch { return undefined; }
  }

  put(r: ImageRecord): void {
    writeJsonAtomicSync(join(this.dir, `${digestHex(r.id)}.json`), r);
  }

  delete(id: string): void {
    rmSync(join(this.dir, `${digestHex(id)}.json`), { force: true });
  }

  all(): ImageRecord[] {
    return readdirSync(this.dir).filter((n) => /^[a-f0-9]{64}\.json$/.test(n)).sort()
      .map((n) => this.get(`sha256:${n.slice(0, 64)}`)).filter((r): r is ImageRecord => r !== undefined);
  }

  names(): Record<string, string> {
    const p = join(this.dir, 'names.json');
    if (!existsSync(p)) return {};
    try { return JSON.parse(readFileSync(p, 'utf8')) as Record<string, string>; } catch { return {}; }
  }

  /** Replaces the name table (caller holds the lock). Keys are written sorted. */
  setNames(n: Record<string, string>): void {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(n).sort()) sorted[k] = n[k]!;
    writeJsonAtomicSync(join(this.dir, 'names.json'), sorted);
  }

  namesOf(id: string, table = this.names()): string[] {
    return Object.entries(table).filter(([, v]) => v === id).map(([k]) => k).sort();
  }
}
