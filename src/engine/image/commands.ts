// Data for `tsstack image ls|inspect|rm|prune` (the CLI renders it). Pure
// shaping over the store; sorted output.

import type { ImageInfo } from '../api.js';
import { TsstackError } from '../../util/errors.js';
import { digestHex } from './oci.js';
import { familiarName, parseReference } from './reference.js';
import type { ImageStore } from './store.js';
import { byCodeUnits as cmp } from '../../util/compare.js';

export interface ImageRow {
  repository: string;
  tag: string;
  /** 12-hex short id. */
  id: string;
  digest: string;
  created: string;
  size: number;
}

/** One row per name (Docker's `image ls`), `<none>` for unnamed images; sorted by repository, tag. */
export function imageRows(images: ImageInfo[]): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const i of images) {
    const base = { id: digestHex(i.id).slice(0, 12), digest: i.digest ?? '<none>', created: i.created ?? '', size: i.size };
    if (i.names.length === 0) rows.push({ repository: '<none>', tag: '<none>', ...base });
    for (const n of i.names) {
      const r = parseReference(n);
      rows.push({ repository: familiarName({ domain: r.domain, path: r.path }), tag: r.tag ?? '<none>', ...base });
    }
  }
  return rows.sort((a, b) => (a.repository === b.repository ? cmp(a.tag, b.tag) : cmp(a.repository, b.repository)) || cmp(a.id, b.id));
}

export async function imageList(store: ImageStore): Promise<ImageRow[]> {
  return imageRows(await store.list());
}

/** A Docker-like inspect document for one image. */
export async function imageInspect(store: ImageStore, ref: string): Promise<Record<string, unknown>> {
  const info = await store.inspect(ref);
  if (!info) throw new TsstackError('NOT_FOUND', `no such image: ${ref}`, { hint: 'see tsstack image ls' });
  const rec = store.record(info.id)!;
  const cfg = await store.config(info.id);
  return {
    Id: info.id,
    RepoTags: info.names.map((n) => familiarName(parseReference(n))),
    RepoDigests: rec.repoDigests,
    Created: cfg.created,
    Architecture: cfg.architecture,
    Os: cfg.os,
    ...(cfg.variant ? { Variant: cfg.variant } : {}),
    Config: cfg.config ?? {},
    Size: info.size,
    RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
    Manifest: { Digest: rec.digest, MediaType: rec.manifestMediaType, Layers: rec.layers },
    ChainIds: rec.chainIds,
    History: cfg.history ?? [],
  };
}

/** Removes each ref; returns Docker-style lines (`Untagged: …`, `Deleted: …`) and per-ref errors. */
export async function imageRemove(store: ImageStore, refs: string[], force = false): Promise<{ lines: string[]; errors: TsstackError[] }> {
  const lines: string[] = [];
  const errors: TsstackError[] = [];
  for (const ref of refs) {
    try {
      const before = await store.inspect(ref);
      if (!before) throw new TsstackError('NOT_FOUND', `no such image: ${ref}`);
      await store.remove(ref, { force });
      const after = await store.inspect(before.id);
      for (const n of before.names) if (!after?.names.includes(n)) lines.push(`Untagged: ${familiarName(parseReference(n))}`);
      if (!after) lines.push(`Deleted: ${before.id}`);
    } catch (e) {
      errors.push(e instanceof TsstackError ? e : new TsstackError('INTERNAL', String(e), { cause: e }));
    }
  }
  return { lines, errors };
}

export async function imagePrune(store: ImageStore): Promise<{ removedBlobs: number; removedLayers: number; reclaimed: number }> {
  return store.prune();
}
