// A hostile image layer (names with `..`, absolute names, links out and writes
// through them, hard links out or through links, whiteouts naming `..`, very
// long names, overlay xattrs) is unpacked by the real store: it is refused or
// lands inside its own layer directory; nothing outside is created, changed
// or removed. Device nodes and set-uid files are kept (as Docker keeps them),
// inside the layer.
import test, { type ExecutionContext } from 'ava';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ImageStore } from '../../src/engine/image/store.js';
import { lgetxattrs } from '../../src/engine/image/sys.js';
import { TsstackError } from '../../src/util/errors.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { makeTar, type FixtureEntry } from '../image/layers-fixture.js';

interface Env { root: string; victim: string; store: ImageStore }

/** A store, and a host directory the layers aim at (`victim/keep`, 0755). */
function setup(): Env {
  const root = makeTemp('tsstack-sec-layers-');
  const victim = join(root, 'victim');
  mkdirSync(victim);
  writeFileSync(join(victim, 'keep'), 'host file\n');
  chmodSync(victim, 0o755);
  return { root, victim, store: new ImageStore({ root: join(root, 'store') }) };
}

/** The victim directory is as it was: same entries, content, modes, no xattrs. */
function untouched(t: ExecutionContext, e: Env, what: string): void {
  t.deepEqual(readdirSync(e.victim), ['keep'], `${what}: nothing created or removed outside the layer`);
  t.is(readFileSync(join(e.victim, 'keep'), 'utf8'), 'host file\n', `${what}: host file unchanged`);
  t.is(statSync(e.victim).mode & 0o7777, 0o755, `${what}: host directory mode unchanged`);
  t.deepEqual(Object.keys(lgetxattrs(e.victim)), [], `${what}: no xattr set on the host directory`);
  t.true(!existsSync(join(e.root, 'evil')) && !existsSync(join(e.root, 'store', 'evil')) && !existsSync(join(e.root, 'store', 'layers', 'evil')), `${what}: nothing beside the layer dirs`);
}

/** `../` enough to climb from a layer's temp dir to `/`. */
const UP = '../'.repeat(20).slice(0, -1);

const refused: [string, (v: string) => FixtureEntry[]][] = [
  ['a name with ../ climbing to a host directory', (v) => [{ name: `${UP}${v}/evil`, data: 'x' }]],
  ['a symlink to a host directory, then a file written through it', (v) => [{ name: 'a', type: 'symlink', linkname: v }, { name: 'a/evil', data: 'x' }]],
  ['a relative symlink out, then a file written through it', () => [{ name: 'a', type: 'symlink', linkname: UP }, { name: 'a/evil', data: 'x' }]],
  ['a symlink out, then a directory made through it', (v) => [{ name: 'a', type: 'symlink', linkname: v }, { name: 'a/sub/', type: 'directory' }]],
  ['a hard link to a host file by ../', (v) => [{ name: 'h', type: 'link', linkname: `${UP}${v}/keep` }]],
  ['a hard link to a host file by absolute name', (v) => [{ name: 'h', type: 'link', linkname: `${v}/keep` }]],
  ['a hard link through a symlink out', (v) => [{ name: 'l', type: 'symlink', linkname: v }, { name: 'h', type: 'link', linkname: 'l/keep' }]],
  ['a whiteout through a symlink out', (v) => [{ name: 'l', type: 'symlink', linkname: v }, { name: 'l/.wh.keep', data: '' }]],
  ['an opaque marker through a symlink out', (v) => [{ name: 'l', type: 'symlink', linkname: v }, { name: 'l/.wh..wh..opq', data: '' }]],
  ['a whiteout naming ..', () => [{ name: 'd/', type: 'directory' }, { name: 'd/.wh...', data: '' }]],
  ['a whiteout naming .', () => [{ name: '.wh..', data: '' }]],
  ['a device node through a symlink out', (v) => [{ name: 'l', type: 'symlink', linkname: v }, { name: 'l/null', type: 'character-device', devmajor: 1, devminor: 3 }]],
  ['a name longer than the kernel takes', () => [{ name: `${'d'.repeat(200)}/`.repeat(30) + 'f', data: 'x' }]],
];

for (const [what, entries] of refused) {
  test(`layer: refused: ${what}`, async (t) => {
    const e = setup();
    try {
      const err = await t.throwsAsync(e.store.addLayer(Readable.from([await makeTar(entries(e.victim))])));
      t.true(err instanceof TsstackError && err.code === 'IMAGE', String(err));
      untouched(t, e, what);
      t.deepEqual(readdirSync(join(e.root, 'store', 'layers', 'tmp')), [], 'the half-unpacked layer is gone');
    } finally { rmTemp(e.root); }
  });
}

test('layer: contained: absolute names, links to links, a directory over a link out, a file over a directory', async (t) => {
  const e = setup();
  try {
    const v = e.victim;
    const layer = await e.store.addLayer(Readable.from([await makeTar([
      { name: `${v}/abs`, data: 'inside\n' },
      { name: 's', type: 'symlink', linkname: `${v}/keep` },
      { name: 'h', type: 'link', linkname: 's' },
      { name: 'l', type: 'symlink', linkname: v },
      { name: 'l/', type: 'directory', mode: 0o777 },
      { name: 'd/', type: 'directory' },
      { name: 'd/x', data: 'x' },
      { name: 'd', data: 'now a file\n' },
      { name: 'suid', data: '#!/bin/sh\n', mode: 0o4755 },
      { name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'redirected/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.user.kept': 'yes' } },
    ])]));
    const diff = e.store.layers.diffPath(layer.chainId);
    t.is(readFileSync(join(diff, v, 'abs'), 'utf8'), 'inside\n', 'an absolute name lands inside the layer');
    t.true(lstatSync(join(diff, 'h')).isSymbolicLink(), 'a hard link to a symlink is that symlink, not its target');
    t.is(readlinkSync(join(diff, 'h')), `${v}/keep`);
    t.true(lstatSync(join(diff, 'l')).isDirectory(), 'a directory entry replaces the link; the host directory is not chmod-ed');
    t.is(readFileSync(join(diff, 'd'), 'utf8'), 'now a file\n');
    t.is(lstatSync(join(diff, 'suid')).mode & 0o7777, 0o4755, 'set-uid kept, inside the layer');
    t.true(lstatSync(join(diff, 'null')).isCharacterDevice(), 'device node kept, inside the layer');
    const x = lgetxattrs(join(diff, 'redirected'));
    t.is(x['user.kept']?.toString(), 'yes');
    t.false('trusted.overlay.redirect' in x, 'overlay metadata is never taken from a layer');
    untouched(t, e, 'contained');
  } finally { rmTemp(e.root); }
});
