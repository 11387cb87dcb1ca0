// Pushing an image: every blob the registry lacks (HEAD first), mounted from
// another repository of the same registry when the store knows one that holds
// it, else uploaded (monolithic PUT, or PATCH chunks then PUT); then the
// manifests, and the index when the store holds a complete multi-platform one.
// The stored manifest bytes go up unchanged, so the digests stay the same.

import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import type { ImageStore } from '../store.js';
import { TsstackError } from '../../../util/errors.js';
import { INDEX_TYPES, MANIFEST_TYPES, digestHex, type Descriptor, type Index, type Manifest } from '../oci.js';
import { parseDocument } from '../validate.js';
import { formatReference, looksLikeImageId, parseReference, repositoryOf, type ImageReference } from '../reference.js';
import { runBounded } from '../store.js';
import { RegistryClient } from './client.js';

export interface PushOptions {
  onProgress?: (line: string) => void;
  /** Upload blobs larger than this in PATCH chunks of this size (default: TSSTACK_PUSH_CHUNK_SIZE, else one PUT). */
  chunkSize?: number;
}

/** A manifest to push with the blobs it needs. */
interface PushManifest { digest: string; mediaType: string; bytes: Buffer; blobs: Descriptor[] }

/** What goes up for one image: its manifests (one, or each platform's) and maybe the index over them. */
interface PushPlan { manifests: PushManifest[]; index?: { digest: string; mediaType: string; bytes: Buffer } }

export function chunkSizeFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.TSSTACK_PUSH_CHUNK_SIZE;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new TsstackError('USAGE', `TSSTACK_PUSH_CHUNK_SIZE must be a number of bytes, not "${v}"`);
  return Number(v);
}

export async function pushImage(store: ImageStore, ref: string, opts: PushOptions = {}): Promise<{ digest: string }> {
  const progress = opts.onProgress ?? (() => {});
  const chunkSize = opts.chunkSize ?? chunkSizeFromEnv();
  if (looksLikeImageId(ref) && store.resolveId(ref)) {
    throw new TsstackError('USAGE', `cannot push "${ref}": an image id says nothing about where to push`, { hint: 'tag it with a registry name first (tsstack image tag ID REGISTRY/REPO:TAG)' });
  }
  const r = parseReference(ref);
  const name = formatReference(r);
  const id = store.resolveId(ref);
  const rec = id ? store.record(id) : undefined;
  if (!rec) {
    throw new TsstackError('NOT_FOUND', `cannot push ${name}: no such image in the image store`, { hint: `build, pull or tag an image as ${ref} first` });
  }
  const plan = await planPush(store, rec.digest, rec.manifestMediaType, rec.indexDigests, name);
  const top = plan.index ? { digest: plan.index.digest, size: plan.index.bytes.length } : { digest: plan.manifests[0]!.digest, size: plan.manifests[0]!.bytes.length };
  if (r.digest && r.digest !== top.digest) {
    throw new TsstackError('USAGE', `cannot push ${name}: the image's manifest digest is ${top.digest}`, { hint: 'push it by tag, or by its own digest' });
  }
  const blobs = new Map<string, Descriptor>();
  for (const m of plan.manifests) for (const b of m.blobs) blobs.set(b.digest, b);
  for (const b of blobs.values()) {
    if (!store.content.has(b.digest)) {
      throw new TsstackError('IMAGE', `cannot push ${name}: blob ${b.digest} is missing from the image store`, { hint: `pull or build ${ref} again` });
    }
  }
  const client = new RegistryClient(r.domain, {
    insecureRegistries: store.opts.insecureRegistries ?? [],
    ...(store.opts.dockerConfigPath ? { dockerConfigPath: store.opts.dockerConfigPath } : {}),
  });
  const up = new Uploader(client, r, name, chunkSize);
  const lease = await store.lease({ blobs: [...blobs.keys(), ...plan.manifests.map((m) => m.digest), ...(plan.index ? [plan.index.digest] : [])] });
  try {
    progress(`The push refers to repository [${repositoryOf(r)}]`);
    const sources = mountSources(store, r);
    await runBounded([...blobs.values()].map((b) => async () => {
      const short = digestHex(b.digest).slice(0, 12);
      const how = await up.blob(b, store.content.path(b.digest), sources.get(b.digest) ?? []);
      progress(`${short}: ${how}`);
    }), store.opts.maxConcurrentDownloads ?? 3);
    const target = r.digest ?? r.tag ?? 'latest';
    if (plan.index) {
      for (const m of plan.manifests) await up.manifest(m.digest, m.mediaType, m.bytes);
      await up.manifest(target, plan.index.mediaType, plan.index.bytes, plan.index.digest);
    } else {
      const m = plan.manifests[0]!;
      await up.manifest(target, m.mediaType, m.bytes, m.digest);
    }
    await store.addRepoDigest(rec.id, `${repositoryOf(r)}@${top.digest}`);
    progress(`${r.tag ?? top.digest}: digest: ${top.digest} size: ${top.size}`);
    return { digest: top.digest };
  } catch (e) {
    // The client's errors name the registry; say which image the push was for.
    if (e instanceof TsstackError && !e.message.includes(name)) {
      throw new TsstackError(e.code, `cannot push ${name}: ${e.message}`, { ...(e.hint ? { hint: e.hint } : {}), details: e.details, cause: e });
    }
    throw e;
  } finally {
    await lease.release();
  }
}

/**
 * The manifests to push: the image's own, or, when it came with an index whose
 * every platform (manifest, config and layers) is in the store, all of them
 * and the index. An index with platforms the store lacks is not pushed (the
 * registry would refuse it, or hold a broken image).
 */
async function planPush(store: ImageStore, digest: string, mediaType: string, indexDigests: string[], name: string): Promise<PushPlan> {
  const own = await manifestToPush(store, digest, mediaType, name);
  for (const d of indexDigests) {
    if (!store.content.has(d)) continue;
    const bytes = await store.content.read(d);
    const index = parseDocument<Index>('index', bytes, `${name} (index ${d})`);
    const children: PushManifest[] = [];
    for (const c of index.manifests) {
      if (!MANIFEST_TYPES.includes(c.mediaType) || !store.content.has(c.digest)) break;
      const m = await manifestToPush(store, c.digest, c.mediaType, name);
      if (!m.blobs.every((b) => store.content.has(b.digest))) break;
      children.push(m);
    }
    if (children.length === index.manifests.length && children.some((c) => c.digest === digest)) {
      const mt = index.mediaType && INDEX_TYPES.includes(index.mediaType) ? index.mediaType : 'application/vnd.oci.image.index.v1+json';
      return { manifests: children, index: { digest: d, mediaType: mt, bytes } };
    }
  }
  return { manifests: [own] };
}

async function manifestToPush(store: ImageStore, digest: string, mediaType: string, name: string): Promise<PushManifest> {
  const bytes = await store.content.read(digest);
  const m = parseDocument<Manifest>('manifest', bytes, `${name} (manifest ${digest})`);
  return { digest, mediaType: m.mediaType ?? mediaType, bytes, blobs: [m.config, ...m.layers] };
}

/**
 * Blob → repositories of the same registry that hold it, as far as the store
 * knows: the repositories images were pulled from or pushed to (`repoDigests`).
 */
function mountSources(store: ImageStore, to: ImageReference): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rec of store.records.all()) {
    const repos = new Set<string>();
    for (const rd of rec.repoDigests) {
      try {
        const x = parseReference(rd);
        if (x.domain === to.domain && x.path !== to.path) repos.add(x.path);
      } catch { /* a name this version cannot parse: no mount from it */ }
    }
    if (!repos.size) continue;
    for (const d of [rec.id, ...rec.layers.map((l) => l.digest)]) out.set(d, [...new Set([...(out.get(d) ?? []), ...repos])]);
  }
  return out;
}

/** The OCI distribution upload calls for one repository. */
class Uploader {
  private readonly repo: string;
  private readonly scope: string;

  constructor(private readonly client: RegistryClient, r: ImageReference, private readonly name: string, private readonly chunkSize: number | undefined) {
    this.repo = r.path;
    this.scope = `repository:${r.path}:pull,push`;
  }

  /** Makes sure the registry has blob `d`; says how ("Layer already exists", "Mounted from x", "Pushed"). */
  async blob(d: Descriptor, file: string, from: string[]): Promise<string> {
    const head = await this.client.request('HEAD', `/v2/${this.repo}/blobs/${d.digest}`, this.scope);
    await head.body?.cancel();
    if (head.status === 200) return 'Layer already exists';
    if (head.status !== 404) throw await this.failed('HEAD', `blob ${d.digest}`, head);
    let location: string | undefined;
    for (const src of from) {
      // A mount needs pull rights on the source too (one token for both scopes).
      const scope = `${this.scope} repository:${src}:pull`;
      const q = new URLSearchParams({ mount: d.digest, from: src });
      const res = await this.client.request('POST', `/v2/${this.repo}/blobs/uploads/?${q}`, scope, { headers: { 'content-length': '0' } });
      await res.body?.cancel();
      if (res.status === 201) return `Mounted from ${src}`;
      if (res.status !== 202) throw await this.failed('POST', `a mount of ${d.digest} from ${src}`, res);
      // 202: not mounted; the registry opened an upload session instead.
      location = res.headers.get('location') ?? undefined;
      break;
    }
    if (!location) {
      const res = await this.client.request('POST', `/v2/${this.repo}/blobs/uploads/`, this.scope, { headers: { 'content-length': '0' } });
      await res.body?.cancel();
      if (res.status !== 202) throw await this.failed('POST', `an upload of ${d.digest}`, res);
      location = res.headers.get('location') ?? undefined;
    }
    if (!location) throw new TsstackError('IMAGE', `cannot push ${this.name}: registry ${this.client.domain} opened an upload without a Location`);
    await this.upload(location, d, file);
    return 'Pushed';
  }

  private async upload(location: string, d: Descriptor, file: string): Promise<void> {
    const octets = { 'content-type': 'application/octet-stream' };
    const chunk = this.chunkSize;
    if (!chunk || d.size <= chunk) {
      const res = await this.client.request('PUT', withDigest(location, d.digest), this.scope, {
        headers: { ...octets, 'content-length': String(d.size) }, body: () => createReadStream(file),
      });
      await res.body?.cancel();
      if (res.status !== 201) throw await this.failed('PUT', `blob ${d.digest}`, res);
      return;
    }
    const fh = await open(file, 'r');
    try {
      let loc = location;
      for (let off = 0; off < d.size; off += chunk) {
        const len = Math.min(chunk, d.size - off);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, off);
        if (bytesRead !== len) throw new TsstackError('IMAGE', `cannot push ${this.name}: blob ${d.digest} in the store is shorter than ${d.size} bytes`);
        const res = await this.client.request('PATCH', loc, this.scope, {
          headers: { ...octets, 'content-range': `${off}-${off + len - 1}`, 'content-length': String(len) }, body: () => buf,
        });
        await res.body?.cancel();
        if (res.status !== 202) throw await this.failed('PATCH', `chunk ${off}-${off + len - 1} of blob ${d.digest}`, res);
        loc = res.headers.get('location') ?? loc;
      }
      const res = await this.client.request('PUT', withDigest(loc, d.digest), this.scope, { headers: { 'content-length': '0' } });
      await res.body?.cancel();
      if (res.status !== 201) throw await this.failed('PUT', `the end of blob ${d.digest}`, res);
    } finally {
      await fh.close();
    }
  }

  /** PUTs a manifest or index under `reference` (tag or digest); checks the digest the registry reports. */
  async manifest(reference: string, mediaType: string, bytes: Buffer, digest = reference): Promise<void> {
    const res = await this.client.request('PUT', `/v2/${this.repo}/manifests/${reference}`, this.scope, {
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) }, body: () => bytes,
    });
    await res.body?.cancel();
    if (res.status !== 201) throw await this.failed('PUT', `manifest ${reference}`, res);
    const got = res.headers.get('docker-content-digest');
    if (got && got !== digest) {
      throw new TsstackError('IMAGE', `cannot push ${this.name}: registry ${this.client.domain} stored manifest ${reference} as ${got}, not ${digest}`, { hint: 'the registry rewrote the manifest; it does not keep content as sent' });
    }
  }

  /** An error naming the image, the registry, the call and the registry's own words (OCI error body). */
  private async failed(method: string, what: string, res: Response): Promise<TsstackError> {
    const text = await res.text().catch(() => '');
    let detail = text.slice(0, 200);
    try {
      const errs = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors ?? [];
      if (errs.length) detail = errs.map((e) => `${e.code ?? ''}${e.message ? ': ' + e.message : ''}`).join('; ');
    } catch { /* not JSON: keep the text */ }
    return new TsstackError('IMAGE', `cannot push ${this.name} to ${this.client.domain}: ${method} of ${what} failed with ${res.status}${detail ? ` (${detail})` : ''}`, {
      ...(res.status === 401 || res.status === 403 ? { hint: 'check the credentials for this registry in ~/.docker/config.json' } : {}),
    });
  }
}

/** The upload location with `digest=` added (it may carry query parameters of the registry's own). */
export function withDigest(location: string, digest: string): string {
  const u = new URL(location, 'http://relative.invalid');
  u.searchParams.set('digest', digest);
  return location.startsWith('/') ? u.pathname + u.search : u.toString();
}
