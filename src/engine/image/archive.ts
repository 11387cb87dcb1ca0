// Image archives. `loadArchive` reads `docker save` archives (manifest.json +
// repositories, legacy `<id>/layer.tar` or blobs/ layout) and OCI image-layout
// archives (oci-layout + index.json), plain or gzip/zstd compressed.
// `saveArchive` writes an archive that is both: a `docker save` archive and an
// OCI image layout, as modern Docker writes. `writeOciLayout` writes the OCI
// layout to a directory (for skopeo, umoci and other tools).

import { constants as fsc, createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { writeFileAtomicSync } from '../../util/fs-atomic.js';
import { mkdtemp, rename, rm, mkdir, copyFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { ImageInfo } from '../api.js';
import { TsstackError } from '../../util/errors.js';
import { openTarStream, detectFileCompression } from './decompress.js';
import { unpackLayer } from './unpack.js';
import {
  ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, INDEX_TYPES, MANIFEST_TYPES, MT, canonicalJson, digestHex, hostPlatform,
  type Descriptor, type ImageConfig, type Index, type Manifest,
} from './oci.js';
import { parseDocument } from './validate.js';
import { familiarName, looksLikeImageId, normalizeName, parseReference } from './reference.js';

function safeNormalize(ref: string): string {
  try { return normalizeName(ref); } catch { return ''; }
}
import type { ImageStore } from './store.js';
import { choosePlatform } from './registry/pull.js';

interface DockerManifestEntry { Config: string; RepoTags?: string[] | null; Layers: string[] }

/** Loads every image in a `docker save` or OCI-layout archive; returns them. */
export async function loadArchive(store: ImageStore, path: string, onProgress?: (line: string) => void): Promise<ImageInfo[]> {
  if (!existsSync(path)) throw new TsstackError('NOT_FOUND', `cannot load "${path}": no such file`);
  const tmp = await mkdtemp(join(store.content.tmpDir, `load-${process.pid}-`));
  try {
    await unpackLayer(openTarStream(path), tmp, path);
    return await loadDirectory(store, tmp, path, onProgress, true);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Loads from an extracted archive or an OCI layout directory; `what` names it in
 * errors. With `move`, files are moved into the store (the dir is a scratch copy).
 */
export async function loadDirectory(store: ImageStore, dir: string, what: string, onProgress?: (line: string) => void, move = false): Promise<ImageInfo[]> {
  // Archive paths (and the symlinks Docker uses inside archives) must resolve inside the archive.
  const root = realpathSync(dir);
  const inside = (p: string): string => {
    const abs = resolve(root, p);
    if (!abs.startsWith(root + '/')) throw new TsstackError('IMAGE', `${what}: path "${p}" leaves the archive`);
    let real: string;
    try { real = realpathSync(abs); } catch { throw new TsstackError('IMAGE', `${what}: "${p}" is missing from the archive`); }
    if (!real.startsWith(root + '/')) throw new TsstackError('IMAGE', `${what}: path "${p}" leaves the archive (through a symlink)`);
    return real;
  };
  if (existsSync(join(dir, 'manifest.json'))) return loadDockerSave(store, dir, what, inside, move, onProgress);
  if (existsSync(join(dir, 'index.json')) && existsSync(join(dir, 'oci-layout'))) return loadOciLayout(store, dir, what, inside, move, onProgress);
  throw new TsstackError('IMAGE', `${what} is neither a docker save archive (manifest.json) nor an OCI image layout (oci-layout + index.json)`, {
    hint: 'create it with `docker save` or `tsstack image save`',
  });
}

function readJson(p: string, what: string): unknown {
  try { return JSON.parse(readFileSync(p, 'utf8')); } catch (e) {
    throw new TsstackError('IMAGE', `${what}: ${basename(p)} is not valid JSON: ${(e as Error).message}`);
  }
}

async function loadDockerSave(store: ImageStore, dir: string, what: string, inside: (p: string) => string, move: boolean, onProgress?: (line: string) => void): Promise<ImageInfo[]> {
  const entries = readJson(join(dir, 'manifest.json'), what);
  if (!Array.isArray(entries)) throw new TsstackError('IMAGE', `${what}: manifest.json must be a list of images`);
  const out: ImageInfo[] = [];
  // Files are moved into the store (same filesystem); a file several images share is moved once.
  const stored = new Map<string, { digest: string; size: number }>();
  const put = async (p: string): Promise<{ digest: string; size: number }> => {
    let b = stored.get(p);
    if (!b) { b = await store.content.putFile(p, { move }); stored.set(p, b); }
    return b;
  };
  for (const [i, e] of (entries as DockerManifestEntry[]).entries()) {
    if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers)) throw new TsstackError('IMAGE', `${what}: manifest.json[${i}] needs Config and Layers`);
    const cfgPath = inside(e.Config);
    if (!stored.has(cfgPath)) parseDocument<ImageConfig>('config', readFileSync(cfgPath), `${what}: ${e.Config}`);
    const cfg = await put(cfgPath);
    const layers: Descriptor[] = [];
    for (const l of e.Layers) {
      const p = inside(l);
      const c = stored.has(p) ? detectFileCompression(store.content.path(stored.get(p)!.digest)) : detectFileCompression(p);
      const b = await put(p);
      layers.push({ mediaType: c === 'gzip' ? MT.ociLayerGzip : c === 'zstd' ? MT.ociLayerZstd : MT.ociLayer, digest: b.digest, size: b.size });
    }
    const manifest: Manifest = { schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.size }, layers };
    const m = await store.content.put(canonicalJson(manifest));
    const names = (e.RepoTags ?? []).map((t) => normalizeName(t));
    onProgress?.(`Loading ${names.join(', ') || digestHex(cfg.digest).slice(0, 12)}`);
    const info = await store.ingest({ manifestDigest: m.digest, manifest, manifestMediaType: MT.ociManifest, names, ...(onProgress ? { onProgress } : {}) });
    onProgress?.(`Loaded image: ${names.map((n) => familiarName(parseReference(n))).join(', ') || info.id}`);
    out.push(info);
  }
  return out;
}

async function loadOciLayout(store: ImageStore, dir: string, what: string, inside: (p: string) => string, move: boolean, onProgress?: (line: string) => void): Promise<ImageInfo[]> {
  parseDocument('layout', readFileSync(join(dir, 'oci-layout')), `${what}: oci-layout`);
  const index = parseDocument<Index>('index', readFileSync(join(dir, 'index.json')), `${what}: index.json`);
  const blob = (d: Descriptor): string => inside(`blobs/${d.digest.replace(':', '/')}`);
  // A blob already moved into the store is read from there.
  const read = (d: Descriptor): Buffer => (store.content.has(d.digest) ? readFileSync(store.content.path(d.digest)) : readFileSync(blob(d)));
  const out: ImageInfo[] = [];
  for (const top of index.manifests) {
    const ann = top.annotations ?? {};
    const rawName = ann[ANNOTATION_CONTAINERD_NAME] ?? ann[ANNOTATION_REF_NAME];
    const names = rawName && /[:/@]/.test(rawName) ? [normalizeName(rawName)] : [];
    let desc = top;
    const indexDigests: string[] = [];
    if (INDEX_TYPES.includes(desc.mediaType)) {
      const nested = parseDocument<Index>('index', read(desc), `${what}: index ${desc.digest}`);
      await store.content.putFile(blob(desc), { expected: desc.digest, move });
      indexDigests.push(desc.digest);
      const pick = choosePlatform(nested.manifests, hostPlatform());
      if (!pick) throw new TsstackError('IMAGE', `${what}: index ${desc.digest} has no image for this platform`);
      desc = pick;
    }
    if (!MANIFEST_TYPES.includes(desc.mediaType)) continue; // artifacts and other types are not images
    const manifest = parseDocument<Manifest>('manifest', read(desc), `${what}: manifest ${desc.digest}`);
    await store.content.putFile(blob(desc), { expected: desc.digest, move });
    for (const d of [manifest.config, ...manifest.layers]) await store.content.putFile(blob(d), { expected: d.digest, move });
    const info = await store.ingest({ manifestDigest: desc.digest, manifest, manifestMediaType: desc.mediaType, names, indexDigests, ...(onProgress ? { onProgress } : {}) });
    onProgress?.(`Loaded image: ${names.map((n) => familiarName(parseReference(n))).join(', ') || info.id}`);
    out.push(info);
  }
  return out;
}

interface LayoutPlan {
  /** path in the archive → blob digest */
  blobs: Map<string, string>;
  files: { path: string; data: string }[];
}

function plan(store: ImageStore, refs: string[]): LayoutPlan {
  if (refs.length === 0) throw new TsstackError('USAGE', 'no images to save', { hint: 'name at least one image' });
  const blobs = new Map<string, string>();
  const indexEntries: Descriptor[] = [];
  const dockerEntries: DockerManifestEntry[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const add = (d: string): string => { const p = `blobs/sha256/${digestHex(d)}`; blobs.set(p, d); return p; };
  for (const ref of refs) {
    const id = store.resolveId(ref);
    const rec = id ? store.record(id) : undefined;
    if (!rec) throw new TsstackError('NOT_FOUND', `image "${ref}" is not in the image store`, { hint: 'see tsstack image ls' });
    add(rec.digest);
    const cfgPath = add(rec.id);
    const layerPaths = rec.layers.map((l) => add(l.digest));
    const names = looksLikeImageId(ref) && !store.records.names()[safeNormalize(ref)] ? [] : [normalizeName(ref)].filter((n) => parseReference(n).tag !== undefined);
    const size = store.content.has(rec.digest) ? statSync(store.content.path(rec.digest)).size : 0;
    if (names.length === 0) indexEntries.push({ mediaType: rec.manifestMediaType, digest: rec.digest, size });
    for (const n of names) {
      const r = parseReference(n);
      indexEntries.push({ mediaType: rec.manifestMediaType, digest: rec.digest, size, annotations: { [ANNOTATION_CONTAINERD_NAME]: n, ...(r.tag ? { [ANNOTATION_REF_NAME]: r.tag } : {}) } });
      const fam = familiarName(r);
      const repo = familiarName({ domain: r.domain, path: r.path });
      if (r.tag) (repositories[repo] ??= {})[r.tag] = digestHex(rec.layers[rec.layers.length - 1]!.digest);
      const existing = dockerEntries.find((e) => e.Config === cfgPath);
      if (existing) existing.RepoTags = [...(existing.RepoTags ?? []), fam];
      else dockerEntries.push({ Config: cfgPath, RepoTags: [fam], Layers: layerPaths });
    }
    if (names.length === 0 && !dockerEntries.some((e) => e.Config === cfgPath)) dockerEntries.push({ Config: cfgPath, RepoTags: null, Layers: layerPaths });
  }
  const index: Index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: indexEntries };
  return {
    blobs,
    files: [
      { path: 'oci-layout', data: canonicalJson({ imageLayoutVersion: '1.0.0' }) },
      { path: 'index.json', data: canonicalJson(index) },
      { path: 'manifest.json', data: JSON.stringify(dockerEntries) },
      { path: 'repositories', data: canonicalJson(repositories) },
    ],
  };
}

/**
 * Writes a docker-save-compatible archive (also an OCI image layout) of `refs` to `path` (temp + rename).
 * The temp name is random and created exclusively: in a shared directory (/tmp) nobody can have
 * planted a link there for root to write through.
 */
export async function saveArchive(store: ImageStore, refs: string[], path: string): Promise<void> {
  const p = plan(store, refs);
  const tmp = join(dirname(resolve(path)), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const pack = tar.pack();
  const out = createWriteStream(tmp, { mode: 0o644, flags: 'wx' });
  const done = pipeline(pack as unknown as NodeJS.ReadableStream, out);
  const mtime = new Date(0);
  const entry = (h: Parameters<typeof pack.entry>[0], data?: string): Promise<void> =>
    new Promise((res, rej) => { pack.entry({ mode: 0o644, mtime, ...h }, data ?? Buffer.alloc(0), (e) => (e ? rej(e) : res())); });
  try {
    await entry({ name: 'blobs/', type: 'directory', mode: 0o755 });
    await entry({ name: 'blobs/sha256/', type: 'directory', mode: 0o755 });
    for (const [name, digest] of [...p.blobs].sort()) {
      const src = store.content.path(digest);
      const sink = pack.entry({ name, size: statSync(src).size, mode: 0o644, mtime });
      await pipeline(createReadStream(src), sink as unknown as NodeJS.WritableStream);
    }
    for (const f of p.files) await entry({ name: f.path }, f.data);
    pack.finalize();
    await done;
    await rename(tmp, path);
  } catch (e) {
    pack.destroy(e as Error);
    await done.catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes `refs` as an OCI image layout directory (created if missing; blobs copied). */
export async function writeOciLayout(store: ImageStore, refs: string[], dir: string): Promise<void> {
  const p = plan(store, refs);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [name, digest] of p.blobs) {
    // never through a link someone left in the directory: an existing entry is kept as it is
    await copyFile(store.content.path(digest), join(dir, name), fsc.COPYFILE_EXCL).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
  }
  await mkdir(dir, { recursive: true });
  for (const f of p.files) if (f.path === 'oci-layout' || f.path === 'index.json') writeFileAtomicSync(join(dir, f.path), f.data);
}
