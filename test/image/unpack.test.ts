import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { ImageStore } from '../../src/engine/image/store.js';
import { unpackLayer, safeRelative } from '../../src/engine/image/unpack.js';
import { packDirectory } from '../../src/engine/image/pack.js';
import { lgetxattrs, majorOf, minorOf } from '../../src/engine/image/sys.js';
import { TsstackError } from '../../src/util/errors.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { mountPoints } from '../../src/engine/image/mount.js';
import { makeTar, whiteoutLayers } from './layers-fixture.js';

test('safeRelative normalizes and refuses escapes', (t) => {
  t.is(safeRelative('./a/b/', 'l'), 'a/b');
  t.is(safeRelative('/a//b', 'l'), 'a/b');
  t.is(safeRelative('a/../b', 'l'), 'b');
  t.is(safeRelative('./', 'l'), undefined);
  for (const bad of ['..', '../x', 'a/../../x', '/../etc/passwd']) t.throws(() => safeRelative(bad, 'l'), { instanceOf: TsstackError });
});

test.serial('whiteouts, opaque dirs, links, devices, modes, owners, xattrs and mtimes', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const [b1, b2] = await whiteoutLayers();
    const l1 = await store.addLayer(Readable.from([b1]));
    const l2 = await store.addLayer(Readable.from([b2]), l1.chainId);
    const img = await store.commit({ config: { architecture: 'amd64', os: 'linux' }, layers: [l1, l2], names: ['wh:1'] });
    t.deepEqual(img.chainIds, [l1.chainId, l2.chainId]);

    const d2 = store.layers.diffPath(l2.chainId);
    const wh = lstatSync(join(d2, 'a/x'));
    t.true(wh.isCharacterDevice());
    t.is(wh.rdev, 0);
    t.is(lgetxattrs(join(d2, 'd'))['trusted.overlay.opaque']?.toString(), 'y');
    t.is(statSync(join(d2, 'd')).mode & 0o7777, 0o750);
    const tool = statSync(join(d2, 'bin/tool'));
    t.is(tool.mode & 0o7777, 0o4755);
    t.is(tool.uid, 1000);
    t.is(tool.nlink, 2);
    t.is(statSync(join(d2, 'bin/tool2')).ino, tool.ino);
    t.is(readlinkSync(join(d2, 'bin/t')), 'tool');
    const dn = lstatSync(join(d2, 'dev/null'));
    t.true(dn.isCharacterDevice());
    t.deepEqual([majorOf(dn.rdev), minorOf(dn.rdev)], [1, 3]);
    t.true(lstatSync(join(d2, 'dev/fifo')).isFIFO());
    t.is(lgetxattrs(join(d2, 'x-attr'))['user.tsstack']?.toString(), 'yes');
    t.is(statSync(join(d2, 'bin/tool')).mtime.toISOString(), '2020-01-02T03:04:05.000Z');
    t.is(statSync(join(d2, 'bin')).mtime.toISOString(), '2020-01-02T03:04:05.000Z');

    const c = join(root, 'c');
    const rootfs = await store.mountRootfs('wh:1', c);
    try {
      t.false(existsSync(join(rootfs, 'a/x')), 'whited out');
      t.is(readFileSync(join(rootfs, 'a/y'), 'utf8'), 'y');
      t.deepEqual(readdirSync(join(rootfs, 'd')), ['new'], 'opaque dir hides the lower contents');
      t.is(readFileSync(join(rootfs, 'etc/motd'), 'utf8'), 'hello\n');
    } finally {
      await store.unmountRootfs(c);
    }

    // Packing the layer dir back with overlay whiteouts gives OCI whiteouts again.
    const out = join(root, 'repacked');
    mkdirSync(out);
    await unpackLayer(packDirectory(d2, { overlayWhiteouts: true }), out, 'repack');
    t.true(lstatSync(join(out, 'a/x')).isCharacterDevice());
    t.is(lgetxattrs(join(out, 'd'))['trusted.overlay.opaque']?.toString(), 'y');
    t.is(statSync(join(out, 'bin/tool2')).ino, statSync(join(out, 'bin/tool')).ino);
    t.true([...mountPoints()].every((m) => !m.startsWith(root)));
  } finally {
    rmTemp(root);
  }
});

const escapes: [string, Parameters<typeof makeTar>[0]][] = [
  ['dot-dot path', [{ name: '../evil', data: 'x' }]],
  ['absolute dot-dot path', [{ name: '/../evil', data: 'x' }]],
  ['through a symlink', [{ name: 'l', type: 'symlink', linkname: '/tmp' }, { name: 'l/evil', data: 'x' }]],
  ['through a relative symlink', [{ name: 'l', type: 'symlink', linkname: '../..' }, { name: 'l/evil', data: 'x' }]],
  ['hard link out', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
  ['whiteout of the parent', [{ name: 'a/.wh...', data: '' }]],
  ['whiteout of the directory itself', [{ name: '.wh..', data: '' }]],
  ['hard link through a symlink', [{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 'l/passwd' }]],
];
for (const [name, entries] of escapes) {
  test(`refuses an entry escaping the layer: ${name}`, async (t) => {
    const dir = makeTemp();
    try {
      mkdirSync(join(dir, 'inner/diff'), { recursive: true });
      const e = await t.throwsAsync(unpackLayer(Readable.from([await makeTar(entries)]), join(dir, 'inner/diff'), 'sha256:bad'));
      t.true(e instanceof TsstackError, String(e));
      t.regex(e!.message, /sha256:bad/);
      t.false(existsSync(join(dir, 'evil')) || existsSync(join(dir, 'inner/evil')) || existsSync('/tmp/evil'));
    } finally {
      rmTemp(dir);
    }
  });
}

test.serial('gzip and zstd layer files give the same diff id and chain; a wrong diff id is refused', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const [b1] = await whiteoutLayers();
    const plain = join(root, 'l.tar');
    writeFileSync(plain, b1);
    writeFileSync(join(root, 'l.tar.gz'), gzipSync(b1));
    const a = await store.addLayer(plain);
    const g = await store.addLayer(join(root, 'l.tar.gz'));
    t.is(a.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    t.is(g.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    t.is(g.diffId, a.diffId);
    t.is(g.chainId, a.chainId);
    t.not(g.digest, a.digest);
    let zstdOk = false;
    try { execFileSync('zstd', ['-q', '-f', plain, '-o', join(root, 'l.tar.zst')]); zstdOk = true; } catch { t.log('zstd CLI absent: zstd covered by the registry test'); }
    if (zstdOk) {
      const z = await store.addLayer(join(root, 'l.tar.zst'));
      t.is(z.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
      t.is(z.diffId, a.diffId);
    }
    const wrong = 'sha256:' + '0'.repeat(64);
    const e = await t.throwsAsync(store.layers.ensure(wrong, wrong, undefined, () => Readable.from([b1]), 'layer X'));
    t.regex(e!.message, /does not match/);
    t.false(store.layers.has(wrong));
    t.deepEqual(readdirSync(join(store.layers.dir, 'tmp')), []);
  } finally {
    rmTemp(root);
  }
});

test.serial('a truncated or corrupt layer file fails cleanly', async (t) => {
  const root = makeTemp();
  try {
    const store = new ImageStore({ root });
    const [b1] = await whiteoutLayers();
    const gz = gzipSync(b1);
    for (const [name, bytes] of [['truncated.gz', gz.subarray(0, gz.length >> 1)], ['garbage.gz', Buffer.concat([gz.subarray(0, 10), Buffer.alloc(200, 7)])]] as const) {
      writeFileSync(join(root, name), bytes);
      const e = await t.throwsAsync(store.addLayer(join(root, name)));
      t.true(e instanceof TsstackError, `${name}: ${String(e)}`);
    }
    t.deepEqual(await store.layers.list(), []);
    t.deepEqual(readdirSync(join(store.layers.dir, 'tmp')), []);
  } finally {
    rmTemp(root);
  }
});

test.serial('binary xattrs (file capabilities) survive unpack and pack byte for byte', async (t) => {
  const root = makeTemp();
  try {
    // cap_net_raw+ep, VFS_CAP_REVISION_2
    const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const bin = Buffer.from([0, 0xff, 0x80, 1, 0xc3, 0x28]);
    const layer = await makeTar([
      { name: 'ping', data: 'x', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap.toString('latin1'), 'SCHILY.xattr.user.bin': bin.toString('latin1') } },
      { name: 'ünïcødé-名前', data: 'y', pax: { 'SCHILY.xattr.user.text': 'plain' } },
    ]);
    const a = join(root, 'a');
    mkdirSync(a);
    await unpackLayer(Readable.from([layer]), a, 'caps');
    t.deepEqual(lgetxattrs(join(a, 'ping'))['security.capability'], cap);
    t.deepEqual(lgetxattrs(join(a, 'ping'))['user.bin'], bin);
    t.is(lgetxattrs(join(a, 'ünïcødé-名前'))['user.text']?.toString(), 'plain');
    const b = join(root, 'b');
    mkdirSync(b);
    await unpackLayer(packDirectory(a), b, 'repacked');
    t.deepEqual(lgetxattrs(join(b, 'ping'))['security.capability'], cap);
    t.deepEqual(lgetxattrs(join(b, 'ping'))['user.bin'], bin);
    t.true(existsSync(join(b, 'ünïcødé-名前')));
  } finally {
    rmTemp(root);
  }
});
