// docker save / OCI layout archives: what tsstack saves loads in skopeo and back
// in tsstack; archives written by skopeo (docker-archive, oci-archive) load.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { createReadStream } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ImageStore } from '../../src/engine/image/store.js';
import { writeOciLayout } from '../../src/engine/image/archive.js';
import { TsstackError } from '../../src/util/errors.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { haveSkopeo, skopeo, skopeoCopy } from '../helpers/registry.js';
import { haveConformance, schemaErrors } from './oci-schema.js';
import { makeTar, whiteoutLayers } from './layers-fixture.js';
import { needs } from '../helpers/skip.js';

const run = promisify(execFile);

async function tarNames(path: string): Promise<string[]> {
  const ex = tar.extract();
  const names: string[] = [];
  createReadStream(path).pipe(ex as unknown as NodeJS.WritableStream);
  for await (const e of ex) { names.push(e.header.name); e.resume(); }
  return names;
}

test.serial('saveArchive writes docker save + OCI layout; skopeo reads it; a fresh store loads it back', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const bb = await makeBusyboxImage(store);
    const [b1, b2] = await whiteoutLayers();
    const l1 = await store.addLayer(Readable.from([b1]));
    const l2 = await store.addLayer(Readable.from([b2]), l1.chainId);
    const wh = await store.commit({ config: { architecture: 'amd64', os: 'linux', config: { Env: ['A=1'] } }, layers: [l1, l2], names: ['example.com/team/wh:2'] });
    const out = join(root, 'images.tar');
    await store.saveArchive(['busybox', 'example.com/team/wh:2'], out);
    const names = await tarNames(out);
    for (const n of ['oci-layout', 'index.json', 'manifest.json', 'repositories', `blobs/sha256/${bb.id.slice(7)}`]) t.true(names.includes(n), n);

    const x = join(root, 'x');
    mkdirSync(x);
    await run('tar', ['-xf', out, '-C', x]);
    const manifest = JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8'));
    t.deepEqual(manifest.map((m: { RepoTags: string[] }) => m.RepoTags), [['busybox:latest'], ['example.com/team/wh:2']]);
    t.deepEqual(JSON.parse(readFileSync(join(x, 'repositories'), 'utf8')).busybox.latest, store.record(bb.id)!.layers[0]!.digest.slice(7));
    if (haveConformance()) {
      t.deepEqual(schemaErrors('layout', JSON.parse(readFileSync(join(x, 'oci-layout'), 'utf8'))), []);
      const index = JSON.parse(readFileSync(join(x, 'index.json'), 'utf8'));
      t.deepEqual(schemaErrors('index', index), []);
      for (const m of index.manifests) {
        const doc = JSON.parse(readFileSync(join(x, 'blobs/sha256', m.digest.slice(7)), 'utf8'));
        t.deepEqual(schemaErrors('manifest', doc), []);
        t.deepEqual(schemaErrors('config', JSON.parse(readFileSync(join(x, 'blobs/sha256', doc.config.digest.slice(7)), 'utf8'))), []);
      }
    } else t.log('schema check skipped: ../shared absent');

    if (haveSkopeo()) {
      await skopeoCopy(`docker-archive:${out}:busybox:latest`, `oci:${join(root, 'sk')}:bb`);
      await skopeoCopy(`docker-archive:${out}:example.com/team/wh:2`, `oci:${join(root, 'sk')}:wh`);
      const { stdout } = await skopeo(['inspect', '--config', `oci:${join(root, 'sk')}:wh`]);
      t.deepEqual(JSON.parse(stdout).config.Env, ['A=1']);
      await skopeoCopy(`oci:${x}:latest`, `oci:${join(root, 'sk2')}:bb`); // the same archive read as an OCI layout
    } else t.log('skopeo check skipped: not installed');

    const root2 = makeTemp();
    try {
      const s2 = new ImageStore({ root: root2 });
      const lines: string[] = [];
      const loaded = await s2.loadArchive(out, (l) => lines.push(l));
      t.deepEqual(loaded.map((i) => i.id), [bb.id, wh.id]);
      t.deepEqual((await s2.inspect('example.com/team/wh:2'))?.chainIds, wh.chainIds);
      t.true(lines.includes('Loaded image: busybox:latest'), lines.join('\n'));
      const c = join(root2, 'c');
      const rootfs = await s2.mountRootfs(wh.id, c);
      t.false(existsSync(join(rootfs, 'a/x')));
      await s2.unmountRootfs(c);
      t.deepEqual(readdirSync(s2.content.tmpDir), []);
    } finally { rmTemp(root2); }
  } finally {
    rmTemp(root);
  }
});

needs('skopeo').serial('loads archives written by skopeo: docker-archive (docker save format) and oci-archive, plain and gzipped', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const bb = await makeBusyboxImage(store, 'busybox:1');
    const layout = join(root, 'layout');
    await writeOciLayout(store, ['busybox:1'], layout);
    const da = join(root, 'docker.tar');
    const oa = join(root, 'oci.tar');
    await skopeoCopy(`oci:${layout}:1`, `docker-archive:${da}:registry.local/bb:9`);
    await skopeoCopy(`oci:${layout}:1`, `oci-archive:${oa}:registry.local/bb:10`);
    writeFileSync(`${da}.gz`, gzipSync(readFileSync(da)));
    for (const [file, name] of [[da, 'registry.local/bb:9'], [`${da}.gz`, 'registry.local/bb:9'], [oa, 'registry.local/bb:10']] as const) {
      const r2 = makeTemp();
      try {
        const s2 = new ImageStore({ root: r2 });
        const [img] = await s2.loadArchive(file);
        t.is(img!.id, bb.id, file);
        t.deepEqual(img!.names, [`${name}`], file);
        t.is(img!.chainIds[0], bb.chainIds[0]);
      } finally { rmTemp(r2); }
    }
  } finally {
    rmTemp(root);
  }
});

test('loadArchive refuses what is not an image archive and archives escaping their dir', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const junk = join(root, 'junk.tar');
    writeFileSync(junk, await makeTar([{ name: 'hello.txt', data: 'hi' }]));
    const e = await t.throwsAsync(store.loadArchive(junk));
    t.is((e as TsstackError).code, 'IMAGE');
    t.regex(e!.message, /neither a docker save archive/);
    const evil = join(root, 'evil.tar');
    writeFileSync(evil, await makeTar([{ name: 'manifest.json', data: JSON.stringify([{ Config: '../../etc/passwd', Layers: [] }]) }]));
    const e2 = await t.throwsAsync(store.loadArchive(evil));
    t.regex(e2!.message, /leaves the archive/);
    const viaLink = join(root, 'link.tar');
    writeFileSync(viaLink, await makeTar([
      { name: 'cfg.json', type: 'symlink', linkname: '/etc/hostname' },
      { name: 'manifest.json', data: JSON.stringify([{ Config: 'cfg.json', Layers: [] }]) },
    ]));
    const e5 = await t.throwsAsync(store.loadArchive(viaLink));
    t.regex(e5!.message, /leaves the archive \(through a symlink\)/);
    const bad = join(root, 'bad.tar');
    writeFileSync(bad, await makeTar([{ name: 'oci-layout', data: '{"imageLayoutVersion":"2.0.0"}' }, { name: 'index.json', data: '{"schemaVersion":2,"manifests":[]}' }]));
    const e3 = await t.throwsAsync(store.loadArchive(bad));
    t.regex(e3!.message, /invalid OCI layout/);
    const e4 = await t.throwsAsync(store.loadArchive(join(root, 'missing.tar')));
    t.is((e4 as TsstackError).code, 'NOT_FOUND');
    t.deepEqual(readdirSync(store.content.tmpDir), []);
  } finally {
    rmTemp(root);
  }
});

test.serial('importRootfs from a tar file (docker import)', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const tarPath = join(root, 'rootfs.tar.gz');
    writeFileSync(tarPath, gzipSync(await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/hello', data: 'hi', mode: 0o755 }])));
    const img = await store.importRootfs(tarPath, 'localhost:5000/imported:v1', { config: { Cmd: ['/bin/hello'] } });
    t.deepEqual(img.names, ['localhost:5000/imported:v1']);
    t.deepEqual(img.config.Cmd, ['/bin/hello']);
    t.is(store.record(img.id)!.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    t.is(readFileSync(join(store.layers.diffPath(img.chainIds[0]!), 'bin/hello'), 'utf8'), 'hi');
    const e = await t.throwsAsync(store.importRootfs(join(root, 'nope.tar'), 'x'));
    t.is((e as TsstackError).code, 'NOT_FOUND');
  } finally {
    rmTemp(root);
  }
});
