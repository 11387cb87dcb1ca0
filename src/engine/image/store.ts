// ImageStore: the image half of the engine API over an on-disk OCI store.
//   <root>/content/blobs/sha256/<hex>  blobs (manifests, configs, layer tars), verified on write
//   <root>/layers/<chainID-hex>/diff   each layer unpacked once, shared by images and containers
//   <root>/images/<id-hex>.json        image records; images/names.json: name → image id
// Containers hold on to images by id; the `inUse` callback says which, and
// nothing an in-use image needs is ever removed.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { rm, writeFile } from '../../util/fs-async.js';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BuildRequest, ImageApi, ImageInfo, ImageRuntimeConfig, PullPolicy } from '../api.js';
import { TsstackError } from '../../util/errors.js';
import { ContentStore } from './content.js';
import { LayerStore } from './layers.js';
import { Records, type ImageRecord, type LayerRef } from './records.js';
import { withLock } from './lock.js';
import { MT, canonicalJson, chainIds, hostPlatform, sha256Digest, digestHex, type ImageConfig, type Manifest } from './oci.js';
import { parseDocument, validateDocument } from './validate.js';
import { looksLikeImageId, normalizeName, parseReference, repositoryOf } from './reference.js';

export interface ImageStoreOptions {
  root: string;
  /** The engine's run root: the builder pins RUN steps' network sandboxes under it (default `<root>/run`). */
  runRoot?: string;
  /** Image ids used by containers (never removed, nor their layers). */
  inUse?: () => Set<string> | Promise<Set<string>>;
  /** Extra things prune must keep (e.g. the build cache's layers and blobs). */
  keep?: () => KeepSet | Promise<KeepSet>;
  /** Registries reachable over plain HTTP besides loopback ones (`host:port`). */
  insecureRegistries?: string[];
  /** Docker client config with credentials (default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`). */
  dockerConfigPath?: string;
  /** Parallel layer downloads (default 3). */
  maxConcurrentDownloads?: number;
}

export interface KeepSet { chainIds?: Iterable<string>; blobs?: Iterable<string> }

/** A layer stored and unpacked, ready to be part of an image (what `addLayer` returns). */
export interface LayerDesc extends LayerRef { chainId: string }

export interface IngestRequest {
  manifestDigest: string;
  manifest: Manifest;
  manifestMediaType: string;
  names: string[];
  repoDigests?: string[];
  indexDigests?: string[];
  onProgress?: (line: string) => void;
}

/** The canonical empty layer (a tar of two zero blocks), used for images with no layers. */
const EMPTY_TAR = Buffer.alloc(1024);

export class ImageStore implements ImageApi {
  readonly root: string;
  readonly runRoot: string;
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly records: Records;
  readonly leasesDir: string;
  private leaseSeq = 0;

  constructor(readonly opts: ImageStoreOptions) {
    this.root = opts.root;
    this.runRoot = opts.runRoot ?? join(opts.root, 'run');
    this.content = new ContentStore(opts.root);
    this.layers = new LayerStore(opts.root);
    this.records = new Records(opts.root);
    this.leasesDir = join(opts.root, 'content', 'leases');
    mkdirSync(this.leasesDir, { recursive: true });
  }

  // ------------------------------------------------------------ lookup

  /** The image id a reference or id (prefix) names, if present. */
  resolveId(ref: string): string | undefined {
    if (looksLikeImageId(ref)) {
      const hex = ref.replace(/^sha256:/, '');
      const hits = this.records.all().filter((r) => digestHex(r.id).startsWith(hex));
      if (hits.length === 1) return hits[0]!.id;
      if (hits.length > 1) throw new TsstackError('USAGE', `image id prefix "${ref}" is ambiguous (${hits.length} images)`, { hint: 'give more characters of the id' });
    }
    let r;
    try { r = parseReference(ref); } catch (e) { if (looksLikeImageId(ref)) return undefined; throw e; }
    if (r.digest !== undefined) {
      const repo = repositoryOf(r);
      const all = this.records.all();
      const hit = all.find((x) => x.repoDigests.includes(`${repo}@${r.digest}`)) ?? all.find((x) => x.digest === r.digest || x.indexDigests.includes(r.digest!));
      return hit?.id;
    }
    return this.records.names()[normalizeName(ref)];
  }

  record(id: string): ImageRecord | undefined {
    return this.records.get(id);
  }

  /** The full OCI image config of a stored image. */
  async config(id: string): Promise<ImageConfig> {
    return parseDocument<ImageConfig>('config', await this.content.read(id), id);
  }

  async inspect(ref: string): Promise<ImageInfo | undefined> {
    const id = this.resolveId(ref);
    if (!id) return undefined;
    const rec = this.records.get(id);
    return rec ? this.info(rec) : undefined;
  }

  async list(): Promise<ImageInfo[]> {
    const names = this.records.names();
    const out: ImageInfo[] = [];
    for (const r of this.records.all()) out.push(await this.info(r, names));
    return out;
  }

  private async info(rec: ImageRecord, names = this.records.names()): Promise<ImageInfo> {
    const cfg = await this.config(rec.id);
    const info: ImageInfo = {
      id: rec.id,
      names: this.records.namesOf(rec.id, names),
      digest: rec.digest,
      config: (cfg.config ?? {}) as ImageRuntimeConfig,
      chainIds: rec.chainIds,
      size: rec.size,
    };
    if (cfg.created !== undefined) info.created = cfg.created;
    return info;
  }

  private mustResolve(ref: string): ImageRecord {
    const id = this.resolveId(ref);
    const rec = id ? this.records.get(id) : undefined;
    if (!rec) {
      throw new TsstackError('NOT_FOUND', `image "${ref}" is not in the image store`, { hint: `pull it (tsstack pull ${ref}), build it, or load it (tsstack image load)` });
    }
    return rec;
  }

  // ------------------------------------------------------------ getting images

  async ensure(ref: string, policy: PullPolicy, onProgress?: (line: string) => void): Promise<ImageInfo> {
    if (policy !== 'always') {
      const have = await this.inspect(ref);
      if (have) return have;
      if (policy === 'never') {
        throw new TsstackError('NOT_FOUND', `image "${ref}" is not present and the pull policy is "never"`, { hint: 'build, load or pull the image first, or change pull_policy' });
      }
    }
    return this.pull(ref, onProgress);
  }

  async pull(ref: string, onProgress?: (line: string) => void): Promise<ImageInfo> {
    const { pullImage } = await import('./registry/pull.js');
    return pullImage(this, ref, { onProgress });
  }

  /** Pushes the image `ref` names to the registry and repository the name says (registry/push.ts). */
  async push(ref: string, onProgress?: (line: string) => void): Promise<{ digest: string }> {
    const { pushImage } = await import('./registry/push.js');
    return pushImage(this, ref, { onProgress });
  }

  /** A build that read nothing new and ran nothing is answered by the build memo (build/memo.ts) without loading the builder. */
  async build(req: BuildRequest): Promise<ImageInfo> {
    const memo = await import('./build/memo.js');
    const hit = await memo.lookupMemo(this.root, req, async () => this);
    if (hit) return hit;
    const notes = memo.newNotes();
    const { buildImage } = await import('./build/index.js');
    const info = await buildImage(this, req, notes);
    try { memo.saveMemo(this.root, req, notes, info); } catch { /* a cache: the next build runs in full */ }
    return info;
  }

  // ------------------------------------------------------------ writing images

  /**
   * Stores a layer tar (a file, maybe compressed, or an uncompressed stream) as a
   * blob and unpacks it on top of `parentChainId`. Streams are stored uncompressed.
   */
  async addLayer(source: string | Readable, parentChainId?: string): Promise<LayerDesc> {
    const { openTarStream, detectFileCompression } = await import('./decompress.js');
    const blob = typeof source === 'string' ? await this.content.putFile(source) : await this.content.putStream(source);
    const path = this.content.path(blob.digest);
    const comp = detectFileCompression(path);
    let diffId = blob.digest;
    if (comp !== 'none') {
      try { diffId = await hashStream(openTarStream(path)); } catch (e) {
        throw new TsstackError('IMAGE', `layer ${typeof source === 'string' ? source : blob.digest}: cannot decompress (${comp}): ${(e as Error).message}`, {
          hint: 'the file is truncated or not a layer tar', cause: e,
        });
      }
    }
    const mediaType = comp === 'gzip' ? MT.ociLayerGzip : comp === 'zstd' ? MT.ociLayerZstd : MT.ociLayer;
    const chainId = parentChainId ? sha256Digest(`${parentChainId} ${diffId}`) : diffId;
    await this.layers.ensure(chainId, diffId, parentChainId, () => openTarStream(path), blob.digest);
    return { digest: blob.digest, mediaType, size: blob.size, diffId, chainId };
  }

  /**
   * Writes config + OCI manifest for layers already added and names the image.
   * `config.rootfs` is set from `layers`; an image with no layers gets the empty layer.
   */
  async commit(req: { config: Omit<ImageConfig, 'rootfs'> & { rootfs?: ImageConfig['rootfs'] }; layers: LayerRef[]; names: string[]; annotations?: Record<string, string> }): Promise<ImageInfo> {
    let layers = req.layers;
    if (layers.length === 0) layers = [await this.addLayer(bufferStream(EMPTY_TAR))];
    const config: ImageConfig = { ...req.config, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } };
    const cerr = validateDocument('config', config);
    if (cerr.length) throw new TsstackError('INTERNAL', `image config is invalid: ${cerr.join('; ')}`);
    const cfg = await this.content.put(canonicalJson(config));
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      ...(req.annotations && Object.keys(req.annotations).length ? { annotations: req.annotations } : {}),
    };
    const merr = validateDocument('manifest', manifest);
    if (merr.length) throw new TsstackError('INTERNAL', `image manifest is invalid: ${merr.join('; ')}`);
    const m = await this.content.put(canonicalJson(manifest));
    return this.ingest({ manifestDigest: m.digest, manifest, manifestMediaType: MT.ociManifest, names: req.names });
  }

  /**
   * Records an image whose manifest, config and layer blobs are in the content
   * store: unpacks missing layers (verifying diff ids), writes the record, names it.
   */
  async ingest(req: IngestRequest): Promise<ImageInfo> {
    const { manifest } = req;
    const config = parseDocument<ImageConfig>('config', await this.content.read(manifest.config.digest), manifest.config.digest);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new TsstackError('IMAGE', `image ${req.manifestDigest}: the manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length} diff ids`);
    }
    const chains = chainIds(diffIds);
    const layerRefs: LayerRef[] = manifest.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: diffIds[i]! }));
    const sizes = await runBounded(layerRefs.map((l, i) => async () => {
      const short = digestHex(l.digest).slice(0, 12);
      const meta = this.layers.meta(chains[i]!);
      if (meta) return meta.size;
      req.onProgress?.(`${short}: Extracting`);
      const { openTarStream } = await import('./decompress.js');
      const blob = this.content.path(l.digest);
      const m = await this.layers.ensure(chains[i]!, l.diffId, chains[i - 1], () => openTarStream(blob), `layer ${l.digest}`);
      req.onProgress?.(`${short}: Pull complete`);
      return m.size;
    }), 2);
    const id = manifest.config.digest;
    const old = this.records.get(id);
    const rec: ImageRecord = {
      id,
      digest: req.manifestDigest,
      manifestMediaType: req.manifestMediaType,
      layers: layerRefs,
      chainIds: chains,
      repoDigests: [...new Set([...(old?.repoDigests ?? []), ...(req.repoDigests ?? [])])].sort(),
      indexDigests: [...new Set([...(old?.indexDigests ?? []), ...(req.indexDigests ?? [])])].sort(),
      size: sizes.reduce((a, b) => a + b, 0),
      added: old?.added ?? new Date().toISOString(),
      ...(config.created ? { created: config.created } : {}),
    };
    // The same image again (a cached rebuild, a second load): nothing is rewritten, nothing synced.
    if (!old || canonicalJson(old) !== canonicalJson(rec)) this.records.put(rec);
    if (req.names.length) await this.tagMany(id, req.names);
    return this.info(rec);
  }

  /** Points `name` (normalized) at the image `ref` names. */
  async tag(ref: string, name: string): Promise<void> {
    await this.tagMany(this.mustResolve(ref).id, [name]);
  }

  /** Remembers that the registry holds the image as `repo@digest` (a later push there mounts its blobs). */
  async addRepoDigest(id: string, repoDigest: string): Promise<void> {
    await withLock(this.records.lockPath, async () => {
      const rec = this.records.get(id);
      if (!rec || rec.repoDigests.includes(repoDigest)) return;
      this.records.put({ ...rec, repoDigests: [...rec.repoDigests, repoDigest] });
    });
  }

  private async tagMany(id: string, names: string[]): Promise<void> {
    const norm = names.map(normalizeName);
    // Names that already point at the image need no lock and no write (the table is replaced whole, by rename).
    const now = this.records.names();
    if (norm.every((n) => now[n] === id)) return;
    await withLock(this.records.lockPath, async () => {
      const t = this.records.names();
      for (const n of norm) t[n] = id;
      this.records.setNames(t);
    });
  }

  /** A one-layer image from a root filesystem (a tar, maybe compressed, or a directory), like `docker import`. */
  async importRootfs(tarOrDir: string, name: string, opts: { config?: ImageRuntimeConfig; message?: string } = {}): Promise<ImageInfo> {
    if (!existsSync(tarOrDir)) throw new TsstackError('NOT_FOUND', `cannot import "${tarOrDir}": no such file or directory`);
    let layer: LayerDesc;
    if (statSync(tarOrDir).isDirectory()) {
      const { packDirectory } = await import('./pack.js');
      layer = await this.addLayer(packDirectory(tarOrDir));
    } else {
      layer = await this.addLayer(tarOrDir);
    }
    const plat = hostPlatform();
    const created = new Date().toISOString();
    return this.commit({
      config: {
        architecture: plat.architecture, os: plat.os, ...(plat.variant ? { variant: plat.variant } : {}), created,
        config: { ...(opts.config ?? {}) } as Record<string, unknown>,
        history: [{ created, created_by: 'tsstack image import', ...(opts.message ? { comment: opts.message } : {}) }],
      },
      layers: [layer],
      names: [name],
    });
  }

  // ------------------------------------------------------------ removing

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = this.mustResolve(ref);
    // By id (or a `repo@digest` reference, which names the image itself): all its names go.
    const digestOnly = !looksLikeImageId(ref) && parseReference(ref).digest !== undefined && parseReference(ref).tag === undefined;
    const byId = digestOnly || (looksLikeImageId(ref) && !this.records.names()[safeNormalize(ref) ?? '']);
    const inUse = (await this.opts.inUse?.())?.has(rec.id) ?? false;
    await withLock(this.records.lockPath, async () => {
      const t = this.records.names();
      const names = this.records.namesOf(rec.id, t);
      if (!byId) {
        const n = normalizeName(ref);
        if (names.length <= 1 && inUse && !opts.force) throw inUseError(ref);
        delete t[n];
      } else {
        if (names.length > 1 && !opts.force) {
          throw new TsstackError('CONFLICT', `image ${digestHex(rec.id).slice(0, 12)} is referenced by several names (${names.join(', ')})`, { hint: 'remove it by name, or force with -f' });
        }
        if (inUse && !opts.force) throw inUseError(ref);
        for (const n of names) delete t[n];
      }
      this.records.setNames(t);
      if (!inUse && this.records.namesOf(rec.id, t).length === 0) {
        this.records.delete(rec.id);
        await this.collect();
      }
    });
  }

  async prune(): Promise<{ removedBlobs: number; removedLayers: number; reclaimed: number }> {
    const inUse = (await this.opts.inUse?.()) ?? new Set<string>();
    return withLock(this.records.lockPath, async () => {
      const t = this.records.names();
      const named = new Set(Object.values(t));
      for (const r of this.records.all()) if (!named.has(r.id) && !inUse.has(r.id)) this.records.delete(r.id);
      return this.collect();
    });
  }

  /** Removes blobs and layers no record, lease or keep-set references; caller holds the lock. */
  private async collect(): Promise<{ removedBlobs: number; removedLayers: number; reclaimed: number }> {
    const blobs = new Set<string>();
    const chains = new Set<string>();
    for (const r of this.records.all()) {
      [r.id, r.digest, ...r.indexDigests, ...r.layers.map((l) => l.digest)].forEach((d) => blobs.add(d));
      r.chainIds.forEach((c) => chains.add(c));
    }
    const keep = await this.opts.keep?.();
    for (const b of keep?.blobs ?? []) blobs.add(b);
    for (const c of keep?.chainIds ?? []) chains.add(c);
    for (const l of this.liveLeases()) {
      l.blobs.forEach((b) => blobs.add(b));
      l.chainIds.forEach((c) => chains.add(c));
    }
    let removedBlobs = 0, removedLayers = 0, reclaimed = 0;
    for (const b of await this.content.list()) {
      if (!blobs.has(b)) { reclaimed += await this.content.remove(b); removedBlobs++; }
    }
    for (const c of await this.layers.list()) {
      if (!chains.has(c)) { reclaimed += await this.layers.remove(c); removedLayers++; }
    }
    this.cleanTemp();
    return { removedBlobs, removedLayers, reclaimed };
  }

  /** Deletes temp files and dirs left by processes that are gone. */
  private cleanTemp(): void {
    for (const dir of [this.content.tmpDir, join(this.layers.dir, 'tmp')]) {
      for (const n of readdirSync(dir)) {
        const pid = Number(/(?:^|[.-])(\d+)[.-]/.exec(n)?.[1]);
        if (pid > 0 && !pidAlive(pid)) rmSync(join(dir, n), { recursive: true, force: true });
      }
    }
  }

  // ------------------------------------------------------------ leases

  /**
   * Declares blobs/chains that an operation in progress (a pull, a load, a
   * build step) is writing, so a concurrent prune keeps them. Release when done.
   */
  async lease(items: { blobs?: string[]; chainIds?: string[] }): Promise<{ release: () => Promise<void> }> {
    const p = join(this.leasesDir, `${process.pid}-${++this.leaseSeq}.json`);
    await writeFile(p, JSON.stringify({ blobs: items.blobs ?? [], chainIds: items.chainIds ?? [] }));
    return { release: () => rm(p, { force: true }) };
  }

  private liveLeases(): { blobs: string[]; chainIds: string[] }[] {
    const out: { blobs: string[]; chainIds: string[] }[] = [];
    for (const n of readdirSync(this.leasesDir)) {
      const pid = Number(n.split('-')[0]);
      if (!pidAlive(pid)) { rmSync(join(this.leasesDir, n), { force: true }); continue; }
      try { out.push(JSON.parse(readFileSync(join(this.leasesDir, n), 'utf8'))); } catch { /* being written */ }
    }
    return out;
  }

  // ------------------------------------------------------------ container roots

  async mountRootfs(imageId: string, dir: string): Promise<string> {
    const rec = this.mustResolve(imageId);
    return this.mountLayers(rec.chainIds, dir);
  }

  /** Overlay of the given chain (bottom first) with upper/work in `dir`; used by mountRootfs and the builder. */
  async mountLayers(chain: string[], dir: string): Promise<string> {
    for (const c of chain) {
      if (!this.layers.has(c)) throw new TsstackError('IMAGE', `layer ${c} is missing from ${this.layers.dir}`, { hint: 'remove the image and pull or load it again' });
    }
    const lower = chain.length ? [...chain].reverse().map((c) => this.layers.shortLower(c)) : ['empty'];
    const { mountOverlay } = await import('./mount.js');
    return mountOverlay(this.layers.dir, lower, dir);
  }

  async unmountRootfs(dir: string): Promise<void> {
    const { unmountOverlay } = await import('./mount.js');
    await unmountOverlay(dir);
  }

  // ------------------------------------------------------------ archives

  async loadArchive(path: string, onProgress?: (line: string) => void): Promise<ImageInfo[]> {
    const { loadArchive } = await import('./archive.js');
    return loadArchive(this, path, onProgress);
  }

  async saveArchive(refs: string[], path: string): Promise<void> {
    const { saveArchive } = await import('./archive.js');
    return saveArchive(this, refs, path);
  }
}

function inUseError(ref: string): TsstackError {
  return new TsstackError('CONFLICT', `image "${ref}" is used by a container`, { hint: 'remove the container first, or force with -f (the image stays, untagged, until the container is gone)' });
}

function safeNormalize(ref: string): string | undefined {
  try { return normalizeName(ref); } catch { return undefined; }
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

async function hashStream(s: Readable): Promise<string> {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return 'sha256:' + h.digest('hex');
}

function bufferStream(b: Buffer): Readable {
  return Readable.from([b]);
}

/** Runs tasks with at most `n` at a time; results in task order. */
export async function runBounded<T>(tasks: (() => Promise<T>)[], n: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  let failed: unknown;
  async function worker(): Promise<void> {
    while (next < tasks.length && failed === undefined) {
      const i = next++;
      try { out[i] = await tasks[i]!(); } catch (e) { failed ??= e; }
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}
