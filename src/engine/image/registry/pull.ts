// Pulling an image: resolve the reference to a manifest (choosing the host
// platform from an index), fetch config and layers (bounded parallel, verified
// by digest, resumed with Range after a broken transfer, partial files removed
// on failure), then hand the blobs to the store to unpack and record.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat, truncate } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ImageInfo } from '../../api.js';
import { TsstackError } from '../../../util/errors.js';
import { INDEX_TYPES, MANIFEST_TYPES, chainIds, digestHex, hostPlatform, type Descriptor, type ImageConfig, type Index, type Manifest, type Platform } from '../oci.js';
import { openTarStream } from '../decompress.js';
import { parseDocument } from '../validate.js';
import { formatReference, parseReference, repositoryOf } from '../reference.js';
import type { ImageStore } from '../store.js';
import { runBounded } from '../store.js';
import { RegistryClient } from './client.js';

export interface PullOptions {
  onProgress?: (line: string) => void;
  platform?: Platform;
  /** Attempts per blob (a broken transfer resumes where it stopped). */
  attempts?: number;
}

/** Picks the manifest for `want` from an index: exact os/arch, then variant when both name one. */
export function choosePlatform(manifests: Descriptor[], want: Platform): Descriptor | undefined {
  const cands = manifests.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture && MANIFEST_TYPES.includes(m.mediaType));
  if (want.variant) {
    const exact = cands.find((m) => m.platform?.variant === want.variant);
    if (exact) return exact;
  }
  return cands.find((m) => !m.platform?.variant) ?? cands[0];
}

export async function pullImage(store: ImageStore, ref: string, opts: PullOptions = {}): Promise<ImageInfo> {
  const progress = opts.onProgress ?? (() => {});
  const r = parseReference(ref);
  const name = formatReference(r);
  const client = new RegistryClient(r.domain, {
    insecureRegistries: store.opts.insecureRegistries ?? [],
    ...(store.opts.dockerConfigPath ? { dockerConfigPath: store.opts.dockerConfigPath } : {}),
  });
  progress(`Pulling ${name}`);
  let m = await client.getManifest(r.path, r.digest ?? r.tag!);
  if (r.digest && m.digest !== r.digest) {
    throw new TsstackError('IMAGE', `${name}: registry returned content ${m.digest} for digest ${r.digest}`);
  }
  const indexDigests: string[] = [];
  const lease = await store.lease({ blobs: [m.digest] });
  try {
    if (INDEX_TYPES.includes(m.mediaType)) {
      const index = parseDocument<Index>('index', m.bytes, `${name} (index ${m.digest})`);
      const want = opts.platform ?? hostPlatform();
      const pick = choosePlatform(index.manifests, want);
      if (!pick) {
        const have = index.manifests.filter((x) => x.platform).map((x) => `${x.platform!.os}/${x.platform!.architecture}${x.platform!.variant ? '/' + x.platform!.variant : ''}`);
        throw new TsstackError('IMAGE', `${name} has no image for ${want.os}/${want.architecture} (it has: ${have.join(', ') || 'none'})`, { hint: 'use an image built for this platform' });
      }
      await store.content.put(m.bytes, m.digest);
      indexDigests.push(m.digest);
      m = await client.getManifest(r.path, pick.digest);
      if (m.digest !== pick.digest) throw new TsstackError('IMAGE', `${name}: manifest ${pick.digest} arrived with digest ${m.digest}`);
    }
    if (!MANIFEST_TYPES.includes(m.mediaType)) {
      throw new TsstackError('IMAGE', `${name}: unsupported manifest type "${m.mediaType}"`, { hint: 'tsstack pulls OCI and Docker schema 2 images' });
    }
    const manifest = parseDocument<Manifest>('manifest', m.bytes, `${name} (manifest ${m.digest})`);
    await store.content.put(m.bytes, m.digest);
    const blobs = [manifest.config, ...manifest.layers];
    const inner = await store.lease({ blobs: [m.digest, ...blobs.map((b) => b.digest)] });
    try {
      await fetchBlob(store, client, r.path, manifest.config, () => {}, opts.attempts ?? 3);
      const config = parseDocument<ImageConfig>('config', await store.content.read(manifest.config.digest), `${name} (config ${manifest.config.digest})`);
      const diffIds = config.rootfs.diff_ids;
      if (diffIds.length !== manifest.layers.length) {
        throw new TsstackError('IMAGE', `${name}: the manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length} diff ids`);
      }
      const chains = chainIds(diffIds);
      // Each layer is unpacked as soon as it has arrived, while the others download.
      await runBounded(manifest.layers.map((l, i) => async () => {
        const short = digestHex(l.digest).slice(0, 12);
        if (store.content.has(l.digest)) {
          progress(`${short}: Already exists`);
        } else {
          progress(`${short}: Pulling fs layer`);
          await fetchBlob(store, client, r.path, l, (done) => progress(`${short}: Downloading ${human(done)}/${human(l.size)}`), opts.attempts ?? 3);
          progress(`${short}: Download complete`);
        }
        if (!store.layers.has(chains[i]!)) {
          progress(`${short}: Extracting`);
          const blob = store.content.path(l.digest);
          await store.layers.ensure(chains[i]!, diffIds[i]!, chains[i - 1], () => openTarStream(blob), `layer ${l.digest}`);
          progress(`${short}: Pull complete`);
        }
      }), store.opts.maxConcurrentDownloads ?? 3);
      const info = await store.ingest({
        manifestDigest: m.digest,
        manifest,
        manifestMediaType: m.mediaType,
        names: r.tag !== undefined ? [`${repositoryOf(r)}:${r.tag}`] : [],
        repoDigests: [`${repositoryOf(r)}@${m.digest}`],
        indexDigests,
        onProgress: progress,
      });
      progress(`Digest: ${indexDigests[0] ?? m.digest}`);
      progress(`Status: Downloaded ${name}`);
      return info;
    } finally {
      await inner.release();
    }
  } finally {
    await lease.release();
  }
}

/**
 * Downloads one blob into the content store. A transfer that breaks is resumed
 * from the bytes already on disk (Range) up to `attempts` times; a digest or
 * size mismatch, or the last failure, removes the partial file.
 */
export async function fetchBlob(store: ImageStore, client: RegistryClient, repo: string, d: Descriptor, onBytes: (done: number) => void, attempts: number): Promise<void> {
  if (store.content.has(d.digest)) return;
  const part = store.content.tempPath(`${digestHex(d.digest)}.partial`);
  let lastError: unknown;
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let have = (await stat(part).catch(() => undefined))?.size ?? 0;
      try {
        const res = await client.getBlob(repo, d.digest, have);
        if (res.status === 200 && have > 0) { await truncate(part, 0); have = 0; }
        if (!res.body) throw new Error('empty response body');
        // Hash as the bytes arrive; a resumed transfer first hashes what is on disk.
        const hash = createHash('sha256');
        if (have > 0) for await (const c of createReadStream(part, { end: have - 1 })) hash.update(c as Buffer);
        let done = have;
        let last = 0;
        const tap = new Transform({
          transform(c: Buffer, _e, cb) {
            hash.update(c);
            done += c.length;
            const now = Date.now();
            if (now - last > 500) { last = now; onBytes(done); }
            cb(null, c);
          },
        });
        await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), tap, createWriteStream(part, { flags: have > 0 ? 'a' : 'w', mode: 0o644 }));
        const size = (await stat(part)).size;
        if (size < d.size) throw new Error(`transfer ended after ${size} of ${d.size} bytes`);
        const digest = 'sha256:' + hash.digest('hex');
        if (digest !== d.digest || size !== d.size) {
          await rm(part, { force: true });
          throw new TsstackError('IMAGE', `blob ${d.digest} from ${client.domain}/${repo} arrived as ${digest} (${size} bytes, expected ${d.size})`, {
            hint: 'the registry served corrupt content; try again',
          });
        }
        await store.content.adopt(part, d.digest);
        return;
      } catch (e) {
        lastError = e;
        if (e instanceof TsstackError && /arrived as|denied|not found/.test(e.message)) throw e;
      }
    }
    if (lastError instanceof TsstackError) throw lastError;
    throw new TsstackError('IMAGE', `downloading ${d.digest} from ${client.domain}/${repo} failed: ${(lastError as Error)?.message}`, { cause: lastError });
  } finally {
    await rm(part, { force: true });
  }
}

function human(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}kB`;
  return `${(n / 1024 / 1024).toFixed(1)}MB`;
}
