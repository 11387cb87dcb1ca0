// Builds with the real store, overlay mounts and an OCI runtime (runc or tsstack-runtime).
import test from 'ava';
import { skipWhen } from '../../helpers/skip.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, chmodSync, lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tar from 'tar-stream';
import { ImageStore } from '../../../src/engine/image/store.js';
import { buildImage } from '../../../src/engine/image/build/index.js';
import { hostPlatform } from '../../../src/engine/image/oci.js';
import type { BuildRequest } from '../../../src/engine/api.js';
import { makeBusyboxImage } from '../../helpers/images.js';
import { makeBusyboxRootfs, makeTemp, rmTemp } from '../../helpers/rootfs.js';

function mounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('tsstack-build-test'));
}

interface Env { root: string; ctxDir: string; store: ImageStore; lines: string[] }

async function setup(): Promise<Env> {
  const root = makeTemp('tsstack-build-test-');
  const ctxDir = join(root, 'ctx');
  mkdirSync(ctxDir);
  return { root, ctxDir, store: new ImageStore({ root: join(root, 'store') }), lines: [] };
}

function teardown(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, e: Env): void {
  t.deepEqual(mounts(), [], 'no mount left');
  // a build whose steps need no temp dir (all metadata, all cached) makes none
  const tmp = join(e.root, 'store', 'build-tmp');
  t.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], [], 'no build temp dir left');
  rmTemp(e.root);
}

function req(e: Env, dockerfile: string, extra: Partial<BuildRequest> = {}): BuildRequest {
  return { context: e.ctxDir, dockerfileInline: dockerfile, args: {}, labels: {}, tags: [], onProgress: (l) => e.lines.push(l), ...extra };
}

/** Files of an image's top layer tar: name → type. */
async function topLayerEntries(store: ImageStore, id: string): Promise<Map<string, { type: string; mode: number; uid: number; gid: number; body: string }>> {
  const rec = store.record(id)!;
  const top = rec.layers[rec.layers.length - 1]!;
  const ex = tar.extract();
  const out = new Map<string, { type: string; mode: number; uid: number; gid: number; body: string }>();
  ex.on('entry', (h, s, next) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    s.on('end', () => { out.set(h.name, { type: h.type ?? 'file', mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, body: Buffer.concat(chunks).toString() }); next(); });
  });
  await new Promise<void>((res, rej) => { ex.on('finish', res); ex.on('error', rej); store.content.stream(top.digest).pipe(ex); });
  return out;
}

/** Reads a file from an image by mounting it. */
async function readFromImage(e: Env, id: string, path: string): Promise<string | undefined> {
  const dir = join(e.root, 'peek');
  const rootfs = await e.store.mountRootfs(id, dir);
  try {
    const p = join(rootfs, path);
    return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
  } finally {
    await e.store.unmountRootfs(dir);
    execFileSync('rm', ['-rf', dir]);
  }
}

test.serial('FROM scratch + COPY of a busybox rootfs, then RUN in it', async (t) => {
  const e = await setup();
  try {
    makeBusyboxRootfs(join(e.ctxDir, 'rootfs'));
    writeFileSync(join(e.ctxDir, 'hello.txt'), 'hello\n');
    const img = await buildImage(e.store, req(e, 'FROM scratch\nCOPY rootfs/ /\nCOPY --chmod=600 hello.txt /etc/\nRUN echo built > /built && rm /etc/group\nCMD ["sh"]\n', { tags: ['local/bb:1'] }));
    t.deepEqual(img.names, ['docker.io/local/bb:1']);
    t.is(img.chainIds.length, 3);
    t.deepEqual(img.config.Cmd, ['sh']);
    t.is(await readFromImage(e, img.id, 'built'), 'built\n');
    t.is(await readFromImage(e, img.id, 'etc/hello.txt'), 'hello\n');
    t.is(await readFromImage(e, img.id, 'etc/group'), undefined);
    const top = await topLayerEntries(e.store, img.id);
    t.truthy(top.get('etc/.wh.group'), 'deleting a base file is a whiteout in the layer');
    t.truthy(top.get('built'));
    t.false([...top.keys()].some((k) => k.startsWith('proc') || k.startsWith('dev') || k.startsWith('sys')), 'no mount targets leak into the layer');
    t.true(e.lines.some((l) => /^#\d+ \[2\/5\] COPY rootfs\/ \/$/.test(l)), e.lines.join('\n'));
  } finally { teardown(t, e); }
});

/** A loopback HTTP server counting requests: a RUN --network=host that fetches from it leaves a trace. */
async function counter(): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const srv = createServer((_q, r) => { n++; r.end(`hit ${n}\n`); });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const port = (srv.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/`, hits: () => n, close: () => new Promise((res) => srv.close(() => res())) };
}

test.serial('FROM busybox: RUN with ENV/ARG/USER/WORKDIR, whiteouts, multi-stage COPY --from, metadata', async (t) => {
  const e = await setup();
  try {
    await makeBusyboxImage(e.store);
    const df = [
      'ARG BASE=busybox',
      'FROM ${BASE} AS build',
      'ARG GREETING=hi',
      'ENV OUT=/out',
      'WORKDIR /work',
      'RUN mkdir -p $OUT && echo "$GREETING from $(pwd)" > $OUT/msg && rm /bin/vi',
      'USER app',
      'RUN id -u > /tmp/uid',
      'FROM busybox',
      'COPY --from=build /out/msg /tmp/uid /result/',
      'COPY --from=build --chown=app:app /out /owned',
      'LABEL a=1 "b c"="d e"',
      'EXPOSE 80 53/udp 8000-8001',
      'VOLUME /data',
      'STOPSIGNAL SIGTERM',
      'HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost',
      'ENTRYPOINT ["/bin/sh", "-c"]',
      'CMD echo hello',
    ].join('\n');
    const img = await buildImage(e.store, req(e, df, { args: { GREETING: 'hello', UNUSED: 'x' }, labels: { 'com.example.built': 'yes' }, tags: ['app:dev'] }));
    t.is(await readFromImage(e, img.id, 'result/msg'), 'hello from /work\n');
    t.is(await readFromImage(e, img.id, 'result/uid'), '1000\n');
    t.is(await readFromImage(e, img.id, 'owned/msg'), 'hello from /work\n');
    const c = img.config;
    t.deepEqual(c.Labels, { a: '1', 'b c': 'd e', 'com.example.built': 'yes' });
    t.deepEqual(Object.keys(c.ExposedPorts ?? {}).sort(), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
    t.deepEqual(Object.keys(c.Volumes ?? {}), ['/data']);
    t.is(c.StopSignal, 'SIGTERM');
    t.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'wget -q localhost'], Interval: 5e9, Retries: 2 });
    t.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
    t.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo hello']);
    t.true(e.lines.some((l) => l.includes('not consumed: UNUSED')), 'unused build arg warned');
    t.true(e.lines.some((l) => /^#\d+ \[build 5\/7\] RUN mkdir -p \$OUT/.test(l)), e.lines.join('\n'));
    // The build stage's layer records the deletion of a base file as a whiteout.
    const stageImg = await buildImage(e.store, req(e, df, { target: 'build', args: { GREETING: 'hello' } }));
    const rec = e.store.record(stageImg.id)!;
    t.is(rec.layers.length, 3, 'busybox + two RUN layers');
    t.is(await readFromImage(e, stageImg.id, 'bin/vi'), undefined);
    t.is(stageImg.config.User, 'app');
    t.is(stageImg.config.WorkingDir, '/work');
    t.false((stageImg.config.Env ?? []).some((x) => x.startsWith('GREETING=')), 'ARG values are not persisted');
    const owned = await topLayerEntries(e.store, img.id);
    t.like(owned.get('owned/msg'), { uid: 1000, gid: 1000 });
  } finally { teardown(t, e); }
});

test.serial('cache: a rebuild runs nothing and gives the same image; a context change or noCache reruns', async (t) => {
  const e = await setup();
  const srv = await counter();
  try {
    await makeBusyboxImage(e.store);
    writeFileSync(join(e.ctxDir, 'a.txt'), 'one\n');
    const df = `FROM busybox\nRUN --network=host wget -q -O /fetched ${srv.url}\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\n`;
    const first = await buildImage(e.store, req(e, df));
    t.is(srv.hits(), 1);
    e.lines.length = 0;
    const again = await buildImage(e.store, req(e, df));
    t.is(srv.hits(), 1, 'cached RUN did not execute');
    t.is(again.id, first.id, 'a fully cached rebuild gives the same image id');
    t.is(e.lines.filter((l) => /^#\d+ CACHED$/.test(l)).length, 3, e.lines.join('\n'));
    writeFileSync(join(e.ctxDir, 'a.txt'), 'two\n');
    e.lines.length = 0;
    const changed = await buildImage(e.store, req(e, df));
    t.is(srv.hits(), 1, 'the RUN before the COPY is still cached');
    t.is(e.lines.filter((l) => /^#\d+ CACHED$/.test(l)).length, 1);
    t.is(await readFromImage(e, changed.id, 'copy'), 'two\n');
    await buildImage(e.store, req(e, df, { noCache: true }));
    t.is(srv.hits(), 2, 'noCache runs every step');
  } finally { await srv.close(); teardown(t, e); }
});

test.serial('.dockerignore with ** and ! exceptions; globs; ADD of a local tar', async (t) => {
  const e = await setup();
  try {
    const w = (p: string, s = p): void => { mkdirSync(join(e.ctxDir, p, '..'), { recursive: true }); writeFileSync(join(e.ctxDir, p), s); };
    w('keep.txt'); w('secret.key'); w('logs/a.log'); w('src/x.log'); w('src/deep/y.log'); w('src/deep/important.log'); w('src/main.c'); w('docs/a.md'); w('docs/b.md');
    writeFileSync(join(e.ctxDir, '.dockerignore'), '# comment\n*.key\nlogs\n**/*.log\n!src/deep/important.log\n');
    const tarPath = join(e.ctxDir, 'bundle.tar');
    const tmpd = join(e.root, 'tarsrc');
    mkdirSync(join(tmpd, 'pkg'), { recursive: true });
    writeFileSync(join(tmpd, 'pkg/file'), 'from tar\n');
    execFileSync('tar', ['-czf', tarPath, '-C', tmpd, 'pkg']);
    const img = await buildImage(e.store, req(e, 'FROM scratch\nCOPY . /ctx/\nCOPY docs/*.md /md/\nADD bundle.tar /opt\n'));
    const top = await topLayerEntries(e.store, img.id);
    t.is(top.get('opt/pkg/file')?.body, 'from tar\n');
    const files = (await topLayerEntriesAt(e.store, img.id, 0)).filter((n) => !n.endsWith('/')).sort();
    t.deepEqual(files, ['ctx/.dockerignore', 'ctx/bundle.tar', 'ctx/docs/a.md', 'ctx/docs/b.md', 'ctx/keep.txt', 'ctx/src/deep/important.log', 'ctx/src/main.c']);
    t.deepEqual((await topLayerEntriesAt(e.store, img.id, 1)).filter((n) => !n.endsWith('/')).sort(), ['md/a.md', 'md/b.md']);
    const err = await t.throwsAsync(buildImage(e.store, req(e, 'FROM scratch\nCOPY secret.key /\n')));
    t.regex(err!.message, /^Dockerfile:2: COPY failed: "secret.key" not found in the build context/);
  } finally { teardown(t, e); }
});

async function topLayerEntriesAt(store: ImageStore, id: string, i: number): Promise<string[]> {
  const rec = store.record(id)!;
  const ex = tar.extract();
  const names: string[] = [];
  ex.on('entry', (h, s, next) => { names.push(h.name); s.resume(); s.on('end', next); });
  await new Promise<void>((res, rej) => { ex.on('finish', res); ex.on('error', rej); store.content.stream(rec.layers[i]!.digest).pipe(ex); });
  return names;
}

test.serial('errors name the Dockerfile and line', async (t) => {
  const e = await setup();
  try {
    await makeBusyboxImage(e.store);
    writeFileSync(join(e.ctxDir, 'Dockerfile'), 'FROM busybox\n\nRUN true\nRUN echo failing >&2; exit 3\n');
    const err = await t.throwsAsync(buildImage(e.store, { context: e.ctxDir, args: {}, labels: {}, tags: [] }));
    t.is(err!.message, 'Dockerfile:4: RUN /bin/sh -c echo failing >&2; exit 3 failed with exit code 3');
    t.true((err as unknown as { details: string[] }).details.includes('failing'));
    const e2 = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox\nRUNN x\n')));
    t.is(e2!.message, 'Dockerfile:2: unknown instruction: RUNN');
    const e3 = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox AS a\nFROM a\n', { target: 'nope' })));
    t.regex(e3!.message, /target stage "nope" could not be found/);
    const e4 = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox\nADD http://example.com/x /x\n')));
    t.regex(e4!.message, /^Dockerfile:2: ADD http:\/\/example.com\/x: tsstack does not download ADD sources/);
    const e5 = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox\nUSER nobody-here\nRUN true\n')));
    t.regex(e5!.message, /^Dockerfile:3: unable to find user nobody-here/);
  } finally { teardown(t, e); }
});

test.serial('ONBUILD triggers of a base image run first; COPY --exclude; WORKDIR is created', async (t) => {
  const e = await setup();
  try {
    await makeBusyboxImage(e.store);
    mkdirSync(join(e.ctxDir, 'files'));
    writeFileSync(join(e.ctxDir, 'files/a.txt'), 'a');
    writeFileSync(join(e.ctxDir, 'files/b.tmp'), 'b');
    const base = await buildImage(e.store, req(e, 'FROM busybox\nONBUILD RUN echo triggered > /onbuild\n', { tags: ['base:1'] }));
    t.deepEqual((base.config as { OnBuild?: string[] }).OnBuild, ['RUN echo triggered > /onbuild']);
    const img = await buildImage(e.store, req(e, 'FROM base:1\nWORKDIR /srv/app\nCOPY --exclude=*.tmp files/ ./files/\nRUN test -d /srv/app\n'));
    t.is(await readFromImage(e, img.id, 'onbuild'), 'triggered\n');
    t.is(await readFromImage(e, img.id, 'srv/app/files/a.txt'), 'a');
    t.is(await readFromImage(e, img.id, 'srv/app/files/b.tmp'), undefined);
    t.is((img.config as { OnBuild?: string[] }).OnBuild, undefined, 'triggers are not inherited further');
    t.true(e.lines.some((l) => /\[ONBUILD\] RUN echo triggered/.test(l)), e.lines.join('\n'));
  } finally { teardown(t, e); }
});

for (const rt of ['runc', 'tsstack-runtime']) {
  const bin = rt === 'runc' ? '/usr/sbin/runc' : join(process.cwd(), 'native/bin/tsstack-runtime');
  skipWhen(!existsSync(bin), `${bin} is not built/installed`).serial(`RUN steps under ${rt}: own pid namespace, stage env, user and workdir`, async (t) => {
    const e = await setup();
    const saved = process.env.TSSTACK_BUILD_RUNTIME;
    process.env.TSSTACK_BUILD_RUNTIME = bin;
    try {
      await makeBusyboxImage(e.store);
      const img = await buildImage(e.store, req(e, 'FROM busybox\nENV V=from-env\nWORKDIR /w\nRUN echo "$$ $V $(pwd) $(id -u)" > /root/out\nUSER 1000:1000\nRUN id -u > /tmp/uid\n'));
      t.is(await readFromImage(e, img.id, 'root/out'), '1 from-env /w 0\n');
      t.is(await readFromImage(e, img.id, 'tmp/uid'), '1000\n');
    } finally {
      if (saved === undefined) delete process.env.TSSTACK_BUILD_RUNTIME; else process.env.TSSTACK_BUILD_RUNTIME = saved;
      teardown(t, e);
    }
  });
}

test.serial('FROM scratch with metadata only; a bad .dockerignore is a clear error', async (t) => {
  const e = await setup();
  try {
    // Through ImageStore.build, as the engine calls it.
    const img = await e.store.build(req(e, 'FROM scratch\nLABEL only=metadata\nENV A=1\n', { tags: ['meta:1'] }));
    t.deepEqual((await e.store.inspect('meta:1'))?.id, img.id);
    t.deepEqual(img.config.Labels, { only: 'metadata' });
    t.true((img.config.Env ?? []).includes('A=1'));
    t.is(img.chainIds.length, 1, 'the store gives a layerless image its empty layer');
    writeFileSync(join(e.ctxDir, '.dockerignore'), '[oops\n');
    const err = await t.throwsAsync(buildImage(e.store, req(e, 'FROM scratch\nCOPY . /\n')));
    t.regex(err!.message, /\.dockerignore: syntax error in pattern/);
  } finally { teardown(t, e); }
});

test.serial('RUN --mount: cache persists across builds, bind from context and stage, tmpfs; none land in the layer', async (t) => {
  const e = await setup();
  try {
    await makeBusyboxImage(e.store);
    mkdirSync(join(e.ctxDir, 'files'));
    writeFileSync(join(e.ctxDir, 'files/a.txt'), 'from-context');
    const df = [
      'FROM busybox AS gen',
      'RUN mkdir /out && echo from-stage > /out/s.txt',
      'FROM busybox',
      'RUN --mount=type=cache,target=/var/cache/x n=$(cat /var/cache/x/n 2>/dev/null || echo 0); echo $((n+1)) > /var/cache/x/n; cp /var/cache/x/n /count',
      'RUN --mount=type=bind,source=files,target=/mnt/ctx --mount=type=bind,from=gen,source=/out,target=/mnt/gen --mount=type=tmpfs,target=/scratch \\',
      '    touch /scratch/junk && cat /mnt/ctx/a.txt /mnt/gen/s.txt > /both',
    ].join('\n');
    const one = await buildImage(e.store, req(e, df, { noCache: true }));
    const two = await buildImage(e.store, req(e, df, { noCache: true }));
    t.is(await readFromImage(e, one.id, 'count'), '1\n');
    t.is(await readFromImage(e, two.id, 'count'), '2\n', 'the cache mount kept its content between builds');
    t.is(await readFromImage(e, two.id, 'both'), 'from-contextfrom-stage\n');
    const names = [...(await topLayerEntries(e.store, two.id)).keys()];
    t.deepEqual(names.filter((n) => /^(mnt|scratch|var)/.test(n)), [], 'mount targets made for the run are not in the layer');
    const layer1 = await topLayerEntriesAt(e.store, two.id, 1);
    t.false(layer1.some((n) => n.startsWith('var/cache')), layer1.join(','));
    const err = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox\nRUN --mount=type=secret,id=x true\n')));
    t.regex(err!.message, /^Dockerfile:2: RUN --mount=type=secret is not supported/);
  } finally { teardown(t, e); }
});

test.serial('heredocs: RUN scripts (plain, shebang, fed to a command) and COPY files, expanded unless quoted', async (t) => {
  const e = await setup();
  try {
    await makeBusyboxImage(e.store);
    const df = ['FROM busybox', 'ENV NAME=world', 'RUN <<EOF', 'echo one > /h1', 'echo two >> /h1', 'EOF', "RUN cat > /h2 <<-'X'", '\t$HOME literal', '\tX',
      'COPY <<EOF /etc/greeting', 'hello ${NAME}', 'EOF', "COPY <<A <<'B' /multi/", 'a $NAME', 'A', 'b $NAME', 'B', 'RUN <<EOF', '#!/bin/sh', 'echo shebang > /h3', 'EOF', ''].join('\n');
    const img = await buildImage(e.store, req(e, df));
    t.is(await readFromImage(e, img.id, 'h1'), 'one\ntwo\n');
    t.is(await readFromImage(e, img.id, 'h2'), '$HOME literal\n');
    t.is(await readFromImage(e, img.id, 'etc/greeting'), 'hello world\n');
    t.is(await readFromImage(e, img.id, 'multi/A'), 'a world\n');
    t.is(await readFromImage(e, img.id, 'multi/B'), 'b $NAME\n');
    t.is(await readFromImage(e, img.id, 'h3'), 'shebang\n');
    const err = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox\nRUN <<EOF\necho never closed\n')));
    t.regex(err!.message, /^Dockerfile:2: unterminated heredoc <<EOF/);
  } finally { teardown(t, e); }
});

test.serial('build args reach RUN as environment, unexpanded by the builder (compose TestBuildEscaped)', async (t) => {
  const e = await setup();
  try {
    await makeBusyboxImage(e.store);
    const img = await buildImage(e.store, req(e, 'FROM --platform=$BUILDPLATFORM busybox\nARG foo\nARG BOOL\nARG TARGETARCH\nRUN echo foo is $foo $TARGETARCH > /out && /bin/${BOOL}\n', { args: { foo: '${bar}', BOOL: 'true' } }));
    t.is(await readFromImage(e, img.id, 'out'), `foo is \${bar} ${hostPlatform().architecture}\n`);
    t.false(e.lines.some((l) => l.includes('--platform')), 'the build platform needs no warning');
    const ep = await buildImage(e.store, req(e, 'FROM --platform=linux/s390x busybox\nENTRYPOINT ["/bin/echo"]\n'));
    t.deepEqual([ep.config.Entrypoint, ep.config.Cmd], [['/bin/echo'], undefined], 'ENTRYPOINT drops the base image CMD');
    t.true(e.lines.some((l) => l.includes('WARN: Dockerfile:1: FROM --platform=linux/s390x is ignored')), e.lines.join('\n'));
  } finally { teardown(t, e); }
});

test.serial('a build cleans what a killed build left behind (mounts and temp dirs of dead processes)', async (t) => {
  const e = await setup();
  try {
    const dead = execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"']).toString().trim();
    const stale = join(e.root, 'store', 'build-tmp', `b-${dead}-abc`, 's-1', 'rootfs');
    mkdirSync(stale, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', stale]);
    t.true(mounts().some((m) => m.includes(`b-${dead}-abc`)));
    await buildImage(e.store, req(e, 'FROM scratch\nLABEL x=y\n'));
    t.false(mounts().some((m) => m.includes(`b-${dead}-abc`)), 'the stale mount is gone');
    t.false(existsSync(join(e.root, 'store', 'build-tmp', `b-${dead}-abc`)));
  } finally { teardown(t, e); }
});

test.serial('two builds at once in one store (as `up` builds services in parallel)', async (t) => {
  const e = await setup();
  try {
    await makeBusyboxImage(e.store);
    writeFileSync(join(e.ctxDir, 'f'), 'shared');
    const df = (n: number): string => `FROM busybox\nCOPY f /f\nRUN echo ${n} > /n\n`;
    const [a, b] = await Promise.all([buildImage(e.store, req(e, df(1), { tags: ['a:1'] })), buildImage(e.store, req(e, df(2), { tags: ['b:1'] }))]);
    t.is(await readFromImage(e, a.id, 'n'), '1\n');
    t.is(await readFromImage(e, b.id, 'n'), '2\n');
    t.is(a.chainIds[1], b.chainIds[1], 'the identical COPY step gives the same layer');
  } finally { teardown(t, e); }
});
