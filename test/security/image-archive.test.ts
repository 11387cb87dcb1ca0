// `image save` and the OCI-layout writer put files where a local user may have
// planted links (a shared directory such as /tmp): root must never write
// through one. Real store, real busybox image.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../src/engine/image/store.js';
import { saveArchive, writeOciLayout } from '../../src/engine/image/archive.js';
import { digestHex } from '../../src/engine/image/oci.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

test('archive: image save does not write through a link planted at its temp name', async (t) => {
  const root = makeTemp('tsstack-sec-archive-');
  try {
    const store = new ImageStore({ root: join(root, 'store') });
    await makeBusyboxImage(store);
    const shared = join(root, 'shared');
    mkdirSync(shared);
    const victim = join(root, 'victim');
    writeFileSync(victim, 'host file\n');
    // The name a save used to write first, predictable from the pid.
    symlinkSync(victim, join(shared, `.out.tar.${process.pid}.tmp`));
    await saveArchive(store, ['busybox:latest'], join(shared, 'out.tar'));
    t.is(readFileSync(victim, 'utf8'), 'host file\n');
    t.true(lstatSync(join(shared, 'out.tar')).isFile());
  } finally { rmTemp(root); }
});

test('archive: an OCI layout written into a directory with planted links writes through none of them', async (t) => {
  const root = makeTemp('tsstack-sec-archive-');
  try {
    const store = new ImageStore({ root: join(root, 'store') });
    const img = await makeBusyboxImage(store);
    const dir = join(root, 'layout');
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    const victim = join(root, 'victim');
    writeFileSync(victim, 'host file\n');
    symlinkSync(victim, join(dir, 'index.json'));
    const created = join(root, 'created-outside');
    symlinkSync(created, join(dir, 'blobs', 'sha256', digestHex(img.id)));
    await writeOciLayout(store, ['busybox:latest'], dir);
    t.is(readFileSync(victim, 'utf8'), 'host file\n', 'index.json replaced, not written through');
    t.true(lstatSync(join(dir, 'index.json')).isFile());
    t.false(existsSync(created), 'no file created through a dangling link');
  } finally { rmTemp(root); }
});
