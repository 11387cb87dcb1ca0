import test from 'ava';
import { imageRows, imageRemove, imageInspect, imageList } from '../../src/engine/image/commands.js';
import { ImageStore } from '../../src/engine/image/store.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const id = 'sha256:' + 'ab'.repeat(32);

test('image rows: one per name, <none> for unnamed, sorted', (t) => {
  const rows = imageRows([
    { id, names: ['localhost:5000/app:dev', 'docker.io/library/redis:7'], config: {}, chainIds: [], size: 5 },
    { id: 'sha256:' + 'cd'.repeat(32), names: [], config: {}, chainIds: [], size: 1 },
  ]);
  t.deepEqual(rows.map((r) => `${r.repository}:${r.tag} ${r.id}`), ['<none>:<none> cdcdcdcdcdcd', 'localhost:5000/app:dev abababababab', 'redis:7 abababababab']);
});

test.serial('inspect and remove lines', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const img = await makeBusyboxImage(store, 'bb:1');
    await store.tag('bb:1', 'bb:2');
    t.is((await imageList(store)).length, 2);
    const doc = await imageInspect(store, 'bb:1');
    t.deepEqual(doc.RepoTags, ['bb:1', 'bb:2']);
    t.is(doc.Id, img.id);
    t.deepEqual((await imageRemove(store, ['bb:2'])).lines, ['Untagged: bb:2']);
    const r = await imageRemove(store, ['bb:1', 'nope']);
    t.deepEqual(r.lines, ['Untagged: bb:1', `Deleted: ${img.id}`]);
    t.is(r.errors[0]?.code, 'NOT_FOUND');
    t.deepEqual(await store.layers.list(), [], 'layers collected with the last image');
  } finally { rmTemp(root); }
});
