// Pulls from a real registry (Debian's docker-registry on loopback) holding
// images pushed with skopeo from OCI layouts that tsstack wrote.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ImageStore } from '../../src/engine/image/store.js';
import { writeOciLayout } from '../../src/engine/image/archive.js';
import { MT, canonicalJson, sha256Digest, digestHex } from '../../src/engine/image/oci.js';
import { TsstackError } from '../../src/util/errors.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { startRegistry, haveRegistry, haveSkopeo, skopeoCopy, type TestRegistry } from '../helpers/registry.js';
import { mountPoints } from '../../src/engine/image/mount.js';
import { whiteoutLayers } from './layers-fixture.js';
import { needs } from '../helpers/skip.js';

let reg: TestRegistry | undefined;
let src: ImageStore;
let srcRoot: string;
let layout: string;
let busyboxId: string;
let whId: string;
const ok = haveRegistry() && haveSkopeo();

test.before(async () => {
  if (!ok) return;
  reg = await startRegistry();
  srcRoot = makeTemp();
  src = new ImageStore({ root: srcRoot });
  busyboxId = (await makeBusyboxImage(src, 'bb:latest')).id;
  const [b1, b2] = await whiteoutLayers();
  const l1 = await src.addLayer(Readable.from([b1]));
  const l2 = await src.addLayer(Readable.from([b2]), l1.chainId);
  whId = (await src.commit({ config: { architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/tool'] } }, layers: [l1, l2], names: ['wh:2'] })).id;
  layout = join(srcRoot, 'layout');
  await writeOciLayout(src, ['bb:latest'], layout);
  await skopeoCopy(`oci:${layout}:latest`, reg.ref('bb:latest'));
  // Recompress into local layouts first, then push byte-for-byte: pushing with
  // --dest-compress would let skopeo reuse a blob it already pushed in another form.
  for (const [fmt, repo] of [['gzip', 'bbg'], ['zstd', 'bbz']] as const) {
    await skopeoCopy(`oci:${layout}:latest`, `oci:${layout}-${fmt}:latest`, ['--dest-compress-format', fmt, '--dest-compress']);
    await skopeoCopy(`oci:${layout}-${fmt}:latest`, reg.ref(`${repo}:${fmt}`), ['--preserve-digests']);
  }
});

test.after.always(async () => {
  await reg?.stop();
  if (srcRoot) rmTemp(srcRoot);
});

async function withStore(t: { log: (s: string) => void }, f: (s: ImageStore, root: string) => Promise<void>): Promise<void> {
  const root = makeTemp();
  try { await f(new ImageStore({ root }), root); } finally {
    t.log(`mounts left: ${[...mountPoints()].filter((m) => m.startsWith(root)).length}`);
    rmTemp(root);
  }
}

needs('registry').serial('pull busybox (uncompressed, gzip and zstd layers) and run-ready rootfs', async (t) => {
  await withStore(t, async (store, root) => {
    const lines: string[] = [];
    const img = await store.pull(`${reg!.host}/bb:latest`, (l) => lines.push(l));
    t.is(img.id, busyboxId, 'same config, same id');
    t.deepEqual(img.names, [`${reg!.host}/bb:latest`]);
    t.true(lines.some((l) => l.startsWith('Pulling ')), lines.join('\n'));
    t.true(lines.some((l) => /Download complete/.test(l)));
    t.true(lines.some((l) => l.startsWith('Digest: sha256:')));
    const gz = await store.pull(`${reg!.host}/bbg:gzip`);
    t.is(gz.id, busyboxId);
    t.is(store.record(gz.id)!.layers[0]!.mediaType, MT.ociLayerGzip);
    const zs = await store.pull(`${reg!.host}/bbz:zstd`);
    t.is(zs.id, busyboxId);
    t.is(store.record(zs.id)!.layers[0]!.mediaType, MT.ociLayerZstd);
    t.is((await store.layers.list()).length, 1, 'one unpacked layer shared by all three');
    t.deepEqual((await store.inspect(busyboxId))!.names, [`${reg!.host}/bb:latest`, `${reg!.host}/bbg:gzip`, `${reg!.host}/bbz:zstd`]);

    const byDigest = await store.pull(`${reg!.host}/bb@${img.digest}`);
    t.is(byDigest.id, busyboxId);
    t.is((await store.inspect(`${reg!.host}/bb@${img.digest}`))?.id, busyboxId);

    const c = join(root, 'c');
    const rootfs = await store.mountRootfs(img.id, c);
    t.true(existsSync(join(rootfs, 'bin/busybox')));
    await store.unmountRootfs(c);
    t.deepEqual(readdirSync(store.content.tmpDir), []);

    await store.remove(`${reg!.host}/bb@${img.digest}`, { force: true });
    t.is(await store.inspect(busyboxId), undefined, 'removing by digest removes the image and all its names');
    t.deepEqual(await store.layers.list(), []);
  });
});

needs('registry').serial('a zstd-only pull unpacks through the zstd decoder', async (t) => {
  await withStore(t, async (store) => {
    const img = await store.pull(`${reg!.host}/bbz:zstd`);
    t.is(img.id, busyboxId);
    t.true(existsSync(join(store.layers.diffPath(img.chainIds[0]!), 'bin/busybox')));
  });
});

needs('registry').serial('pull a multi-layer image with whiteouts', async (t) => {
  const whLayout = join(srcRoot, 'wh-layout');
  await writeOciLayout(src, ['wh:2'], whLayout);
  await skopeoCopy(`oci:${whLayout}:2`, reg!.ref('wh:2'));
  await withStore(t, async (store, root) => {
    const img = await store.pull(`${reg!.host}/wh:2`);
    t.is(img.id, whId);
    t.is(img.chainIds.length, 2);
    const c = join(root, 'c');
    const rootfs = await store.mountRootfs(img.id, c);
    try {
      t.false(existsSync(join(rootfs, 'a/x')));
      t.deepEqual(readdirSync(join(rootfs, 'd')), ['new']);
    } finally { await store.unmountRootfs(c); }
  });
});

needs('registry').serial('pull picks linux/amd64 from a multi-platform index', async (t) => {
  const rec = src.record(busyboxId)!;
  const amd = JSON.parse((await src.content.read(busyboxId)).toString());
  const arm = { ...amd, architecture: 'arm64', variant: 'v8' };
  const armCfg = await src.content.put(canonicalJson(arm));
  const armManifest = { ...JSON.parse((await src.content.read(rec.digest)).toString()), config: { mediaType: MT.ociConfig, digest: armCfg.digest, size: armCfg.size } };
  const armM = await src.content.put(canonicalJson(armManifest));
  const amdSize = (await src.content.read(rec.digest)).length;
  const index = {
    schemaVersion: 2, mediaType: MT.ociIndex,
    manifests: [
      { mediaType: MT.ociManifest, digest: armM.digest, size: armM.size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      { mediaType: MT.ociManifest, digest: rec.digest, size: amdSize, platform: { architecture: 'amd64', os: 'linux' } },
    ],
  };
  const dir = join(srcRoot, 'multi');
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  for (const d of [armCfg.digest, armM.digest, rec.digest, busyboxId, ...rec.layers.map((l) => l.digest)]) {
    writeFileSync(join(dir, 'blobs/sha256', digestHex(d)), await src.content.read(d));
  }
  const idx = canonicalJson(index);
  writeFileSync(join(dir, 'blobs/sha256', digestHex(sha256Digest(idx))), idx);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), canonicalJson({ schemaVersion: 2, manifests: [{ mediaType: MT.ociIndex, digest: sha256Digest(idx), size: idx.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
  await skopeoCopy(`oci:${dir}:multi`, reg!.ref('multi:1'), ['--all']);
  await withStore(t, async (store) => {
    const img = await store.pull(`${reg!.host}/multi:1`);
    t.is(img.id, busyboxId);
    const indexDigest = store.record(img.id)!.indexDigests[0]!;
    t.regex(indexDigest, /^sha256:/);
    t.is((await store.inspect(`${reg!.host}/multi@${indexDigest}`))?.id, busyboxId, 'found by its index digest');
  });
});

needs('registry').serial('pull errors: unknown tag, unknown repo, unreachable registry', async (t) => {
  await withStore(t, async (store) => {
    const e1 = await t.throwsAsync(store.pull(`${reg!.host}/bb:nope`));
    t.is((e1 as TsstackError).code, 'NOT_FOUND');
    t.regex(e1!.message, /bb:nope/);
    const e2 = await t.throwsAsync(store.pull(`${reg!.host}/nothing/here:1`));
    t.true(e2 instanceof TsstackError);
    const e3 = await t.throwsAsync(store.pull('127.0.0.1:1/x:1'));
    t.is((e3 as TsstackError).code, 'IMAGE');
    t.regex(e3!.message, /cannot reach registry 127\.0\.0\.1:1/);
    // a port nothing listens on is said in words, its code beside them
    const { createServer } = await import('node:net');
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const closed = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const e5 = await t.throwsAsync(store.pull(`127.0.0.1:${closed}/x:1`));
    t.regex(e5!.message, new RegExp(`cannot reach registry 127\\.0\\.0\\.1:${closed} \\(http://127\\.0\\.0\\.1:${closed}\\): nothing listens there \\(ECONNREFUSED\\)`));
    const e4 = await t.throwsAsync(store.ensure(`${reg!.host}/bb:latest`, 'never'));
    t.is((e4 as TsstackError).code, 'NOT_FOUND');
    const a = await store.ensure(`${reg!.host}/bb:latest`, 'missing');
    t.is(a.id, busyboxId);
    t.deepEqual(readdirSync(store.content.tmpDir), []);
    t.is(readFileSync(join(store.root, 'images/names.json'), 'utf8').includes('bb:latest'), true);
  });
});
