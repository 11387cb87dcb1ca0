// A hostile build context (links out of it, a hostile .dockerignore, a
// hostile ADD archive, a context changing while read) never brings a host
// file into an image: real builds with the real store and overlay mounts.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../src/engine/image/store.js';
import { buildImage } from '../../src/engine/image/build/index.js';
import { SafeRoot, SafeRootError } from '../../src/engine/image/build/safe-root.js';
import type { BuildRequest } from '../../src/engine/api.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { makeTar, type FixtureEntry } from '../image/layers-fixture.js';

interface Env { root: string; ctxDir: string; store: ImageStore; lines: string[] }

function setup(): Env {
  const root = makeTemp('tsstack-sec-build-');
  const ctxDir = join(root, 'ctx');
  mkdirSync(ctxDir);
  return { root, ctxDir, store: new ImageStore({ root: join(root, 'store') }), lines: [] };
}

function teardown(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, e: Env): void {
  try {
    const left = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(e.root));
    t.deepEqual(left, [], 'no mount left');
    t.deepEqual(readdirSync(join(e.root, 'store', 'build-tmp')), [], 'no build temp dir left');
  } finally { rmTemp(e.root); }
}

function req(e: Env, dockerfile: string): BuildRequest {
  return { context: e.ctxDir, dockerfileInline: dockerfile, args: {}, labels: {}, tags: [], noCache: true, onProgress: (l) => e.lines.push(l) };
}

/** Runs `fn` on the image's root filesystem, mounted read-only for the call. */
async function inImage<T>(e: Env, id: string, fn: (rootfs: string) => T): Promise<T> {
  const dir = join(e.root, 'peek');
  const rootfs = await e.store.mountRootfs(id, dir);
  try { return fn(rootfs); } finally {
    await e.store.unmountRootfs(dir);
    execFileSync('rm', ['-rf', dir]);
  }
}

test.serial('context: COPY of a link to /etc beside an empty etc/ copies the context\'s etc/, never the host\'s /etc', async (t) => {
  const e = setup();
  try {
    mkdirSync(join(e.ctxDir, 'etc'));
    writeFileSync(join(e.ctxDir, 'etc', 'mine'), 'mine\n');
    symlinkSync('/etc', join(e.ctxDir, 'l'));
    const img = await buildImage(e.store, req(e, 'FROM scratch\nCOPY l /hostetc\n'));
    await inImage(e, img.id, (r) => {
      t.deepEqual(readdirSync(join(r, 'hostetc')), ['mine'], 'the link is followed inside the context only');
      t.false(existsSync(join(r, 'hostetc', 'passwd')));
      t.false(existsSync(join(r, 'hostetc', 'shadow')));
    });
  } finally { teardown(t, e); }
});

test.serial('context: links met while walking a directory are copied as links, at every level', async (t) => {
  const e = setup();
  try {
    mkdirSync(join(e.ctxDir, 'd', 'sub', 'deeper'), { recursive: true });
    symlinkSync('/etc', join(e.ctxDir, 'd', 'abs'));
    symlinkSync('../../../../../../../../etc', join(e.ctxDir, 'd', 'sub', 'rel'));
    symlinkSync('/etc/passwd', join(e.ctxDir, 'd', 'sub', 'deeper', 'file'));
    const img = await buildImage(e.store, req(e, 'FROM scratch\nCOPY d /d\nCOPY d/sub/ /s/\n'));
    await inImage(e, img.id, (r) => {
      t.true(lstatSync(join(r, 'd/abs')).isSymbolicLink());
      t.is(readlinkSync(join(r, 'd/abs')), '/etc');
      t.is(readlinkSync(join(r, 'd/sub/rel')), '../../../../../../../../etc');
      t.is(readlinkSync(join(r, 'd/sub/deeper/file')), '/etc/passwd');
      t.is(readlinkSync(join(r, 's/deeper/file')), '/etc/passwd');
    });
  } finally { teardown(t, e); }
});

test.serial('context: a link to a host directory below a source whose own name is a link stays a link', async (t) => {
  const e = setup();
  try {
    // `top -> inner` (followed inside the context), inner/hole -> / (copied as a link, never walked).
    mkdirSync(join(e.ctxDir, 'inner'));
    symlinkSync('/', join(e.ctxDir, 'inner', 'hole'));
    symlinkSync('inner', join(e.ctxDir, 'top'));
    const img = await buildImage(e.store, req(e, 'FROM scratch\nCOPY top /t\n'));
    await inImage(e, img.id, (r) => {
      t.deepEqual(readdirSync(join(r, 't')), ['hole']);
      t.is(readlinkSync(join(r, 't/hole')), '/');
    });
  } finally { teardown(t, e); }
});

test.serial('context: a .dockerignore that is a link out of the context is not read from the host', async (t) => {
  const e = setup();
  try {
    const outside = join(e.root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'rules'), 'keep.txt\n');
    symlinkSync(join(outside, 'rules'), join(e.ctxDir, '.dockerignore'));
    writeFileSync(join(e.ctxDir, 'keep.txt'), 'kept\n');
    const img = await buildImage(e.store, req(e, 'FROM scratch\nCOPY keep.txt /\n'));
    await inImage(e, img.id, (r) => t.is(readFileSync(join(r, 'keep.txt'), 'utf8'), 'kept\n'));
  } finally { teardown(t, e); }
});

test.serial('context: a Dockerfile (or its .dockerignore) that is a link out of its directory is not read; an explicit path outside the context is, as Compose allows', async (t) => {
  const e = setup();
  try {
    const outside = join(e.root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'df'), 'FROM scratch\nLABEL from=outside\n');
    writeFileSync(join(outside, 'rules'), 'keep.txt\n');
    symlinkSync(join(outside, 'df'), join(e.ctxDir, 'Dockerfile'));
    const base = { context: e.ctxDir, args: {}, labels: {}, tags: [], onProgress: (l: string) => e.lines.push(l) };
    const err = await t.throwsAsync(buildImage(e.store, base));
    t.regex(err!.message, /cannot read the Dockerfile/);
    const img = await buildImage(e.store, { ...base, dockerfile: '../outside/df' });
    t.is(img.config.Labels?.from, 'outside');
    writeFileSync(join(e.ctxDir, 'own.Dockerfile'), 'FROM scratch\nCOPY keep.txt /\n');
    writeFileSync(join(e.ctxDir, 'keep.txt'), 'kept\n');
    symlinkSync(join(outside, 'rules'), join(e.ctxDir, 'own.Dockerfile.dockerignore'));
    await buildImage(e.store, { ...base, dockerfile: 'own.Dockerfile' });
    t.pass('keep.txt was not ignored by the linked rules');
  } finally { teardown(t, e); }
});

test.serial('context: ADD of a hostile local tar is refused and writes nothing outside its directory', async (t) => {
  const e = setup();
  try {
    const outside = join(e.root, 'victim');
    mkdirSync(outside);
    const cases: [string, FixtureEntry[]][] = [
      ['dotdot', [{ name: `../../../../../../../..${outside}/dotdot`, data: 'x' }]],
      ['link-then-write', [{ name: 'a', type: 'symlink', linkname: outside }, { name: 'a/through', data: 'x' }]],
      ['hardlink-out', [{ name: 'h', type: 'link', linkname: `../../../../../../..${outside}/x` }]],
    ];
    for (const [name, entries] of cases) {
      writeFileSync(join(e.ctxDir, `${name}.tar`), await makeTar(entries));
      const err = await t.throwsAsync(buildImage(e.store, req(e, `FROM scratch\nADD ${name}.tar /x/\n`)));
      t.regex(err!.message, /escapes the layer directory|not in the layer/, name);
    }
    // Absolute names land inside the destination.
    writeFileSync(join(e.ctxDir, 'abs.tar'), await makeTar([{ name: `${outside}/abs`, data: 'in\n' }]));
    const img = await buildImage(e.store, req(e, 'FROM scratch\nADD abs.tar /x/\n'));
    await inImage(e, img.id, (r) => t.is(readFileSync(join(r, 'x', outside, 'abs'), 'utf8'), 'in\n'));
    t.deepEqual(readdirSync(outside), [], 'nothing written outside');
  } finally { teardown(t, e); }
});

test.serial('context: RUN --mount=type=bind of a link out of the context binds what the link names inside the context', async (t) => {
  const e = setup();
  try {
    await makeBusyboxImage(e.store);
    mkdirSync(join(e.ctxDir, 'etc'));
    writeFileSync(join(e.ctxDir, 'etc', 'mine'), 'mine\n');
    writeFileSync(join(e.ctxDir, 'etc', 'passwd'), 'context passwd\n');
    symlinkSync('/etc', join(e.ctxDir, 'l'));
    symlinkSync('/etc/passwd', join(e.ctxDir, 'f'));
    symlinkSync('/etc/shadow', join(e.ctxDir, 'gone'));
    const img = await buildImage(e.store, req(e, 'FROM busybox\nRUN --mount=type=bind,source=l,target=/m ls /m > /listing\nRUN --mount=type=bind,source=f,target=/f cat /f > /f.out\n'));
    await inImage(e, img.id, (r) => {
      t.is(readFileSync(join(r, 'listing'), 'utf8'), 'mine\npasswd\n');
      t.is(readFileSync(join(r, 'f.out'), 'utf8'), 'context passwd\n');
    });
    // A link naming a host file that the context does not hold is not found.
    const err = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox\nRUN --mount=type=bind,source=gone,target=/g cat /g\n')));
    t.regex(err!.message, /"gone" not found/);
  } finally { teardown(t, e); }
});

test.serial('run: a RUN that swaps a mount target\'s parent for a link out cannot make the builder remove host files', async (t) => {
  const e = setup();
  try {
    await makeBusyboxImage(e.store);
    // The runtime makes /a, /a/b and /a/f in the layer for the mounts; the builder removes them after the
    // step. The step moves /a away and leaves a link to a host directory holding an empty b and f.
    const victim = join(e.root, 'victim');
    mkdirSync(join(victim, 'b'), { recursive: true });
    writeFileSync(join(victim, 'f'), '');
    writeFileSync(join(e.ctxDir, 'x'), 'x\n');
    await buildImage(e.store, req(e, `FROM busybox\nRUN --mount=type=tmpfs,target=/a/b --mount=type=bind,source=x,target=/a/f sh -c 'mv /a /z && ln -s ${victim} /a'\n`));
    t.deepEqual(readdirSync(victim).sort(), ['b', 'f'], 'the host directory and file are still there');
  } finally { teardown(t, e); }
});

test('safe root: a directory swapped for a link out after it was resolved is never followed', (t) => {
  const dir = makeTemp('tsstack-sec-saferoot-');
  const r = SafeRoot.open(join(dir, '.'));
  try {
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'passwd'), 'context\n');
    const p = r.resolve('d/passwd')!;
    t.is(p, 'd/passwd');
    t.deepEqual(r.walk('d').map((x) => x.rel), ['passwd']);
    // The swap: d becomes a link to the host's /etc between resolving and reading.
    renameSync(join(dir, 'd'), join(dir, 'd.old'));
    symlinkSync('/etc', join(dir, 'd'));
    const err = t.throws(() => r.readFile(p), { instanceOf: SafeRootError });
    t.true(err!.changed);
    t.throws(() => r.walk('d'), { instanceOf: SafeRootError });
    t.true(r.lstat('d').isSymbolicLink(), 'the link itself is seen as a link');
    t.is(r.resolve('d/passwd'), undefined, 'a fresh resolution follows it inside the root, where it names nothing');
  } finally { r.close(); rmTemp(dir); }
});
