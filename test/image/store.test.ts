import test from 'ava';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, statSync, lstatSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ImageStore } from '../../src/engine/image/store.js';
import { TsstackError } from '../../src/util/errors.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { makeBusyboxRootfs, makeTemp, rmTemp } from '../helpers/rootfs.js';
import { mountPoints } from '../../src/engine/image/mount.js';
import { haveConformance, schemaErrors } from './oci-schema.js';

function noMountsUnder(dir: string): boolean {
  return [...mountPoints()].every((m) => !m.startsWith(dir));
}

test.serial('busybox image: import, inspect, list, mount, write in upper, unmount', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const img = await makeBusyboxImage(store);
    t.deepEqual(img.names, ['docker.io/library/busybox:latest']);
    t.regex(img.id, /^sha256:[a-f0-9]{64}$/);
    t.is(img.chainIds.length, 1);
    t.deepEqual(img.config.Cmd, ['sh']);
    t.true(img.size > 1_000_000);
    t.is((await store.inspect('busybox'))?.id, img.id);
    t.is((await store.inspect(img.id.slice(7, 19)))?.id, img.id);
    t.is((await store.list()).length, 1);
    t.is(await store.inspect('nothere'), undefined);

    if (haveConformance()) {
      const rec = store.record(img.id)!;
      t.deepEqual(schemaErrors('manifest', JSON.parse((await store.content.read(rec.digest)).toString())), []);
      t.deepEqual(schemaErrors('config', JSON.parse((await store.content.read(rec.id)).toString())), []);
    }

    const cdir = join(root, 'containers', 'c1');
    const rootfs = await store.mountRootfs(img.id, cdir);
    t.is(rootfs, join(cdir, 'rootfs'));
    t.true(statSync(join(rootfs, 'bin/busybox')).size > 100_000);
    t.true(lstatSync(join(rootfs, 'bin/sh')).isSymbolicLink());
    writeFileSync(join(rootfs, 'etc/hello'), 'hi');
    t.is(await store.mountRootfs(img.id, cdir), rootfs, 'idempotent');
    await store.unmountRootfs(cdir);
    t.true(existsSync(join(cdir, 'upper/etc/hello')));
    t.false(existsSync(join(store.layers.diffPath(img.chainIds[0]!), 'etc/hello')), 'layer untouched');
    t.true(noMountsUnder(root));
  } finally {
    rmTemp(root);
  }
});

test.serial('remove, in-use protection and prune', async (t) => {
  const root = makeTemp();
  try {
    const used = new Set<string>();
    const store = new ImageStore({ root, inUse: () => used });
    const img = await makeBusyboxImage(store);
    await store.tag('busybox', 'localhost:5000/bb:1');
    t.deepEqual((await store.inspect(img.id))!.names, ['docker.io/library/busybox:latest', 'localhost:5000/bb:1']);
    const e = await t.throwsAsync(store.remove(img.id));
    t.is((e as TsstackError).code, 'CONFLICT');
    await store.remove('localhost:5000/bb:1');
    t.deepEqual((await store.inspect(img.id))!.names, ['docker.io/library/busybox:latest']);

    used.add(img.id);
    const e2 = await t.throwsAsync(store.remove('busybox'));
    t.is((e2 as TsstackError).code, 'CONFLICT');
    await store.remove('busybox', { force: true });
    t.truthy(await store.inspect(img.id), 'kept, untagged, while a container uses it');
    let p = await store.prune();
    t.is(p.removedLayers, 0);
    t.true(store.layers.has(img.chainIds[0]!));

    used.clear();
    p = await store.prune();
    t.is(p.removedLayers, 1);
    t.true(p.removedBlobs >= 3);
    t.true(p.reclaimed > 1_000_000);
    t.is(await store.inspect(img.id), undefined);
    t.deepEqual(readdirSync(store.content.blobsDir), []);
    const e3 = await t.throwsAsync(store.remove('busybox'));
    t.is((e3 as TsstackError).code, 'NOT_FOUND');
  } finally {
    rmTemp(root);
  }
});

test.serial('image with no layers gets the empty layer and mounts', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const img = await store.commit({ config: { architecture: 'amd64', os: 'linux', config: { Cmd: ['x'] } }, layers: [], names: ['empty:1'] });
    t.is(img.chainIds[0], 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
    const cdir = join(root, 'c');
    mkdirSync(cdir);
    const r = await store.mountRootfs('empty:1', cdir);
    t.deepEqual(readdirSync(r), []);
    await store.unmountRootfs(cdir);
    t.true(noMountsUnder(root));
    t.is(readFileSync(join(root, 'images/names.json'), 'utf8').includes('docker.io/library/empty:1'), true);
  } finally {
    rmTemp(root);
  }
});

test.serial('an image with 150 layers mounts (short lowerdir names), top layer wins', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const { makeTar } = await import('./layers-fixture.js');
    const { Readable } = await import('node:stream');
    const layers = [];
    let parent: string | undefined;
    for (let i = 0; i < 150; i++) {
      const l = await store.addLayer(Readable.from([await makeTar([{ name: `f${i}`, data: String(i) }, { name: 'top', data: String(i) }])]), parent);
      layers.push(l);
      parent = l.chainId;
    }
    const img = await store.commit({ config: { architecture: 'amd64', os: 'linux' }, layers, names: ['tall:1'] });
    const c = join(root, 'c');
    const r = await store.mountRootfs(img.id, c);
    try {
      t.is(readFileSync(join(r, 'top'), 'utf8'), '149');
      t.is(readFileSync(join(r, 'f0'), 'utf8'), '0');
      t.is(readdirSync(r).length, 151);
    } finally { await store.unmountRootfs(c); }
    t.true(noMountsUnder(root));
    await store.remove('tall:1');
    t.deepEqual(readdirSync(join(store.layers.dir, 'l')), [], 'short links go with their layers');
  } finally {
    rmTemp(root);
  }
});

test.serial('leases keep in-progress blobs from prune; a dead process’s lock file holds nothing', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const b = await store.content.put('in progress');
    const lease = await store.lease({ blobs: [b.digest] });
    t.is((await store.prune()).removedBlobs, 0);
    t.true(store.content.has(b.digest));
    await lease.release();
    mkdirSync(dirname(store.records.lockPath), { recursive: true, mode: 0o700 });
    writeFileSync(store.records.lockPath, '999999999', { mode: 0o600 }); // a lock file left by a dead process: flock'ed by none
    writeFileSync(join(store.content.tmpDir, 'stream.999999999.abc'), 'partial');
    mkdirSync(join(store.layers.dir, 'tmp', 'u-999999999-xyz', 'diff'), { recursive: true });
    writeFileSync(join(store.content.tmpDir, `put.${process.pid}.live`), 'mine');
    t.is((await store.prune()).removedBlobs, 1);
    t.deepEqual(readdirSync(store.content.tmpDir), [`put.${process.pid}.live`], 'only a live process keeps its temp files');
    t.deepEqual(readdirSync(join(store.layers.dir, 'tmp')), []);
  } finally {
    rmTemp(root);
  }
});

test.serial('concurrent stores on one root: the same image imported twice at once', async (t) => {
  const root = makeTemp();
  try {
    const tree = join(root, 'tree');
    makeBusyboxRootfs(tree);
    const [a, b] = await Promise.all([new ImageStore({ root }).importRootfs(tree, 'x:1'), new ImageStore({ root }).importRootfs(tree, 'y:1')]);
    t.deepEqual(a.chainIds, b.chainIds);
    const store = new ImageStore({ root });
    t.is((await store.layers.list()).length, 1);
    t.deepEqual(readdirSync(join(store.layers.dir, 'tmp')), []);
    t.deepEqual(readdirSync(store.content.tmpDir), []);
  } finally {
    rmTemp(root);
  }
});
