// Unpacked layers: <root>/layers/<chainID-hex>/diff, each unpacked once and
// shared by every image and container whose chain contains it. A layer dir
// appears only complete: it is unpacked under layers/tmp/ and renamed into place.

import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { mkdir, readdir, rename, rm, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { writeJsonAtomicSync } from '../../util/fs-atomic.js';
import { TsstackError } from '../../util/errors.js';
import { digestHex } from './oci.js';

export interface LayerMeta {
  chainId: string;
  diffId: string;
  parent?: string;
  /** Bytes of file content in the diff. */
  size: number;
}

export class LayerStore {
  readonly dir: string;
  private readonly inflight = new Map<string, Promise<LayerMeta>>();

  constructor(root: string) {
    this.dir = join(root, 'layers');
    mkdirSync(join(this.dir, 'tmp'), { recursive: true });
    mkdirSync(join(this.dir, 'empty'), { recursive: true });
    mkdirSync(join(this.dir, 'l'), { recursive: true });
  }

  /**
   * A short name for a layer's diff dir, relative to `this.dir`: `l/<12 hex>`, a
   * symlink to `../<hex>/diff` (made on first use). Keeps overlay's lowerdir
   * option (one page) good for ~270 layers.
   */
  shortLower(chainId: string): string {
    const hex = digestHex(chainId);
    const rel = `l/${hex.slice(0, 12)}`;
    const link = join(this.dir, rel);
    const want = `../${hex}/diff`;
    let cur: string | undefined;
    try { cur = readlinkSync(link); } catch { /* missing */ }
    if (cur !== want) {
      // A prefix collision (or a stale link) falls back to the long path.
      if (cur !== undefined && existsSync(join(this.dir, 'l', cur))) return this.relDiff(chainId);
      rmSync(link, { force: true });
      try { symlinkSync(want, link); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
      if (readlinkSync(link) !== want) return this.relDiff(chainId);
    }
    return rel;
  }

  /** Directory of a chain relative to `this.dir` (short lowerdir strings for overlay). */
  relDiff(chainId: string): string {
    return `${digestHex(chainId)}/diff`;
  }

  diffPath(chainId: string): string {
    return join(this.dir, this.relDiff(chainId));
  }

  /** An always-empty directory, the lower layer of an image with no layers. */
  get emptyDir(): string {
    return join(this.dir, 'empty');
  }

  has(chainId: string): boolean {
    return existsSync(join(this.dir, digestHex(chainId), 'layer.json'));
  }

  meta(chainId: string): LayerMeta | undefined {
    try { return JSON.parse(readFileSync(join(this.dir, digestHex(chainId), 'layer.json'), 'utf8')) as LayerMeta; } catch { return undefined; }
  }

  /**
   * Makes sure the chain's layer is unpacked; `openTar` gives the uncompressed
   * tar (only called when needed). The tar's digest must equal `diffId`.
   */
  ensure(chainId: string, diffId: string, parent: string | undefined, openTar: () => Readable, what: string): Promise<LayerMeta> {
    const have = this.meta(chainId);
    if (have) return Promise.resolve(have);
    let p = this.inflight.get(chainId);
    if (!p) {
      p = this.unpack(chainId, diffId, parent, openTar, what).finally(() => this.inflight.delete(chainId));
      this.inflight.set(chainId, p);
    }
    return p;
  }

  private async unpack(chainId: string, diffId: string, parent: string | undefined, openTar: () => Readable, what: string): Promise<LayerMeta> {
    const tmp = await mkdtemp(join(this.dir, 'tmp', `u-${process.pid}-`));
    try {
      await mkdir(join(tmp, 'diff'), 0o755);
      const { unpackLayer } = await import('./unpack.js'); // the tar reader, only when a layer is unpacked
      const r = await unpackLayer(openTar(), join(tmp, 'diff'), what);
      if (r.diffId !== diffId) {
        throw new TsstackError('IMAGE', `${what}: uncompressed content ${r.diffId} does not match the image config's diff id ${diffId}`, {
          hint: 'the image is corrupt; remove it and pull or load it again',
        });
      }
      const meta: LayerMeta = { chainId, diffId, size: r.size, ...(parent ? { parent } : {}) };
      writeJsonAtomicSync(join(tmp, 'layer.json'), meta);
      const final = join(this.dir, digestHex(chainId));
      try {
        await rename(tmp, final);
      } catch (e) {
        if (!this.has(chainId)) throw e; // someone else finished it first: theirs is as good
        await rm(tmp, { recursive: true, force: true });
      }
      return meta;
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Adopts an already-populated directory as a layer (e.g. a builder's upper dir
   * after packing it): renamed into place, no copy. `dir` must be on the same filesystem.
   */
  async adoptDir(chainId: string, diffId: string, parent: string | undefined, dir: string, size: number): Promise<LayerMeta> {
    const have = this.meta(chainId);
    if (have) return have;
    const tmp = await mkdtemp(join(this.dir, 'tmp', `a-${process.pid}-`));
    const meta: LayerMeta = { chainId, diffId, size, ...(parent ? { parent } : {}) };
    await rename(dir, join(tmp, 'diff'));
    writeJsonAtomicSync(join(tmp, 'layer.json'), meta);
    try { await rename(tmp, join(this.dir, digestHex(chainId))); } catch (e) {
      if (!this.has(chainId)) throw e;
      await rm(tmp, { recursive: true, force: true });
    }
    return meta;
  }

  async list(): Promise<string[]> {
    return (await readdir(this.dir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`).sort();
  }

  /** Removes a layer dir; returns the bytes of file content it held. */
  async remove(chainId: string): Promise<number> {
    const m = this.meta(chainId);
    const d = join(this.dir, digestHex(chainId));
    // Rename first so a half-deleted layer is never mistaken for a complete one.
    const doomed = join(this.dir, 'tmp', `rm-${process.pid}-${digestHex(chainId)}`);
    await rename(d, doomed).catch(() => undefined);
    await rm(doomed, { recursive: true, force: true });
    await rm(d, { recursive: true, force: true });
    const link = join(this.dir, 'l', digestHex(chainId).slice(0, 12));
    try { if (readlinkSync(link) === `../${digestHex(chainId)}/diff`) rmSync(link, { force: true }); } catch { /* none */ }
    return m?.size ?? 0;
  }
}
