// RUN steps do not run on the builder's network: by default each gets a
// namespace of its own on a build network (outbound NAT), `--network=none`
// loopback only, `--network=host` (or build.network: host) the builder's
// network, warned. The test's own namespace stands for the host: a listener on
// its 127.0.0.1 must be out of reach. Nothing of the build network is left.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ImageStore } from '../../src/engine/image/store.js';
import { buildImage } from '../../src/engine/image/build/index.js';
import { NetworkManager, tableFor } from '../../src/engine/network/index.js';
import type { BuildRequest } from '../../src/engine/api.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

interface Env { root: string; ctxDir: string; store: ImageStore; lines: string[] }

function links(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.split(': ')[1]!.split('@')[0]!).sort();
}

function nftTables(): string {
  return execFileSync('/usr/sbin/nft', ['list', 'tables'], { encoding: 'utf8' });
}

interface Watch extends Env {
  /** Links and tables seen while a RUN step ran (it says "step running") or had just finished. */
  seen: { links: Set<string>; tables: string };
}

async function setup(): Promise<Watch> {
  const root = makeTemp('tsstack-sec-buildnet-');
  const ctxDir = join(root, 'ctx');
  mkdirSync(ctxDir);
  const store = new ImageStore({ root: join(root, 'store'), runRoot: join(root, 'run') });
  await makeBusyboxImage(store);
  return { root, ctxDir, store, lines: [], seen: { links: new Set(), tables: '' } };
}

/** The bridges and host-side veths of this store's networks, as recorded now. */
function recordedLinks(e: Env): string[] {
  const dir = join(e.root, 'store', 'networks');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.')).flatMap((n) => {
    const r = JSON.parse(readFileSync(join(dir, n), 'utf8')) as { bridge: string; endpoints: Record<string, { hostIfname: string }> };
    return [r.bridge, ...Object.values(r.endpoints).map((x) => x.hostIfname)];
  });
}

/** Progress callback that notes the build network's links and the nftables table after each finished RUN. */
function watching(e: Watch): (line: string) => void {
  const table = tableFor(join(e.root, 'store'));
  return (x) => {
    e.lines.push(x);
    if (!/ DONE |^#\d+ step running$/.test(x)) return;
    for (const l of recordedLinks(e)) e.seen.links.add(l);
    if (!e.seen.tables) e.seen.tables = nftTables().includes(table) ? execFileSync('/usr/sbin/nft', ['list', 'table', 'inet', table], { encoding: 'utf8' }) : '';
  };
}

function teardown(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void; false: (a: boolean, m?: string) => void }, e: Watch): void {
  try {
    t.deepEqual(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(e.root)), [], 'no mount left');
    const now = new Set(links());
    t.deepEqual([...e.seen.links].filter((l) => now.has(l)), [], 'no bridge or veth of the build left');
    t.false(nftTables().includes(tableFor(join(e.root, 'store'))), 'no nftables table left');
    const netns = join(e.root, 'run', 'netns');
    t.deepEqual(existsSync(netns) ? readdirSync(netns) : [], [], 'no sandbox left');
    t.deepEqual(recordedLinks(e), [], 'no network record left');
  } finally { rmTemp(e.root); }
}

function req(e: Watch, dockerfile: string, extra: Partial<BuildRequest> = {}): BuildRequest {
  return { context: e.ctxDir, dockerfileInline: dockerfile, args: {}, labels: {}, tags: [], noCache: true, onProgress: watching(e), ...extra };
}

/** A TCP listener on the test namespace's loopback that counts connections. */
async function listener(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const srv: Server = createServer((s) => { n++; s.end('host secret\n'); });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  return { port: (srv.address() as AddressInfo).port, hits: () => n, close: () => new Promise((res) => srv.close(() => res())) };
}

async function readImage(e: Env, id: string, path: string): Promise<string> {
  return (await readImageMaybe(e, id, path)) ?? '(missing)';
}

async function readImageMaybe(e: Env, id: string, path: string): Promise<string | undefined> {
  const dir = join(e.root, 'peek');
  const rootfs = await e.store.mountRootfs(id, dir);
  try { return existsSync(join(rootfs, path)) ? readFileSync(join(rootfs, path), 'utf8') : undefined; } finally {
    await e.store.unmountRootfs(dir);
    execFileSync('rm', ['-rf', dir]);
  }
}

const TRY = (port: number, out: string): string => `(nc -w 2 127.0.0.1 ${port} </dev/null > ${out} 2>&1 && echo reached >> ${out}) || echo refused >> ${out}`;

test.serial('network: a default RUN cannot reach the host\'s loopback and has its own eth0 with a default route', async (t) => {
  const e = await setup();
  const l = await listener();
  try {
    const img = await buildImage(e.store, req(e, `FROM busybox\nRUN echo step running; sleep 0.2; ${TRY(l.port, '/try')}\nRUN cat /proc/net/route > /route; cat /proc/net/dev > /dev.txt; cat /etc/resolv.conf > /resolv\nRUN true\n`));
    t.is(l.hits(), 0, 'the listener on 127.0.0.1 saw no connection');
    t.regex(await readImage(e, img.id, 'try'), /refused/);
    t.notRegex(await readImage(e, img.id, 'try'), /host secret/);
    const route = await readImage(e, img.id, 'route');
    t.regex(route, /^eth0\t00000000\t[0-9A-F]{8}\t/m, 'a default route through eth0');
    const devs = (await readImage(e, img.id, 'dev.txt')).split('\n').slice(2).map((x) => x.split(':')[0]!.trim()).filter(Boolean).sort();
    t.deepEqual(devs, ['eth0', 'lo']);
    const resolv = await readImage(e, img.id, 'resolv');
    t.regex(resolv, /^nameserver /m, 'the host\'s resolvers');
    t.notRegex(resolv, /^nameserver (127\.|::1)/m, 'minus loopback ones, unreachable from the namespace');
    t.is(await readImageMaybe(e, img.id, 'etc/resolv.conf'), undefined, 'the step\'s resolv.conf (the image has none) is not written into the layer');
    t.is(e.store.record(img.id)!.layers.length, 3, 'busybox + two RUN layers: RUN true adds none (no /etc copied up for the binds)');
    t.false(e.lines.some((x) => /WARN.*network=host/.test(x)));
    t.regex(e.seen.tables, /masquerade/, 'while the build runs, its network has an outbound NAT rule');
    t.true(e.seen.links.size >= 2, 'a bridge and a veth were seen while the build ran');
  } finally { await l.close(); teardown(t, e); }
});

test.serial('network: RUN --network=none has loopback only; --network=host reaches the listener and is warned', async (t) => {
  const e = await setup();
  const l = await listener();
  try {
    const img = await buildImage(e.store, req(e, `FROM busybox\nRUN --network=none cat /proc/net/dev > /none.txt\nRUN --network=host ${TRY(l.port, '/host')}\n`));
    const devs = (await readImage(e, img.id, 'none.txt')).split('\n').slice(2).map((x) => x.split(':')[0]!.trim()).filter(Boolean);
    t.deepEqual(devs, ['lo']);
    t.is(l.hits(), 1);
    t.regex(await readImage(e, img.id, 'host'), /host secret\s+reached/);
    t.true(e.lines.some((x) => /^WARN: Dockerfile:3: RUN --network=host: this step runs on the host's network/.test(x)), e.lines.join('\n'));
  } finally { await l.close(); teardown(t, e); }
});

test.serial('network: build.network host applies to every RUN and is warned; an unknown build network is refused', async (t) => {
  const e = await setup();
  const l = await listener();
  try {
    const img = await buildImage(e.store, req(e, `FROM busybox\nRUN ${TRY(l.port, '/host')}\n`, { network: 'host' }));
    t.is(l.hits(), 1);
    t.regex(await readImage(e, img.id, 'host'), /reached/);
    t.true(e.lines.some((x) => /^WARN: build.network: host/.test(x)), e.lines.join('\n'));
    const err = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox\nRUN true\n', { network: 'mynet' })));
    t.regex(err!.message, /build network "mynet" is not supported/);
  } finally { await l.close(); teardown(t, e); }
});

test.serial('network: a failing RUN on the build network leaves nothing behind', async (t) => {
  const e = await setup();
  try {
    const err = await t.throwsAsync(buildImage(e.store, req(e, 'FROM busybox\nRUN true\nRUN exit 3\n')));
    t.regex(err!.message, /failed with exit code 3/);
  } finally { teardown(t, e); }
});

test.serial('network: the network and sandboxes of a killed build are removed by the next build', async (t) => {
  const e = await setup();
  try {
    // A build process that is gone: its pid names the leftovers.
    const dead = spawnSync('true').pid!;
    const m = new NetworkManager({ root: join(e.root, 'store'), runRoot: join(e.root, 'run') });
    try {
      await m.create({ name: `tsstack-build-${dead}-feed`, labels: { 'tsstack.build.pid': String(dead) } });
      await m.createSandbox(`tsstack-build-${dead}-step`);
      await m.connect(`tsstack-build-${dead}-step`, { network: `tsstack-build-${dead}-feed`, aliases: [] });
    } finally { await m.close(); }
    for (const l of recordedLinks(e)) e.seen.links.add(l);
    t.is(e.seen.links.size, 2, 'a stale bridge and veth exist');
    await buildImage(e.store, req(e, 'FROM busybox\nRUN true\n'));
  } finally { teardown(t, e); }
});

test.serial('network: two builds at once each get a network of their own and leave nothing', async (t) => {
  const e = await setup();
  try {
    const [a, b] = await Promise.all(['a', 'b'].map((n) => buildImage(e.store, req(e, `FROM busybox\nRUN echo step running; sleep 0.3; cat /proc/net/route > /route-${n}\n`))));
    t.regex((await readImage(e, a!.id, 'route-a')) + (await readImage(e, b!.id, 'route-b')), /^eth0\t00000000(.|\n)*^eth0\t00000000/m);
    t.true(e.seen.links.size >= 4, 'two bridges and two veths were up');
  } finally { teardown(t, e); }
});
