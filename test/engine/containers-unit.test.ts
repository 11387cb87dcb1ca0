// Containers' own logic over in-memory drivers (test/fakes/containers.ts) and the network manager over
// fake kernel parts (test/fakes/network.ts): the order of create/start/stop/remove, what a failure
// half-way undoes, hooks, attached runs, a monitor that died. No root, no kernel. The real drivers are
// tested for real in test/engine-runtime/ and test/faults/.

import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import type { NetworkManager } from '../../src/engine/network/manager.js';
import type { Containers } from '../../src/engine/runtime/containers.js';
import { TsstackError } from '../../src/util/errors.js';
import { fakeParts, type FakeContainerHost } from '../fakes/containers.js';
import type { FakeNetwork } from '../fakes/network.js';

interface Env {
  dir: string;
  c: Containers;
  h: FakeContainerHost;
  net: NetworkManager;
  nd: FakeNetwork;
  warnings: string[];
}

const envs: Env[] = [];
async function env(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-ctrunit-'));
  const root = join(dir, 'lib'), runRoot = join(dir, 'run');
  const p = fakeParts(root, runRoot);
  await p.net.create({ name: 'front', labels: {}, subnet: '10.88.0.0/24' });
  p.h.log.calls = [];
  const e = { dir, ...p };
  envs.push(e);
  return e;
}
test.after.always(() => {
  for (const e of envs) rmSync(e.dir, { recursive: true, force: true });
});

function spec(name: string, extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:0123', labels: { 'tsstack.project': 'p', 'tsstack.service': name },
    args: ['sleep', '60'], env: ['A=1'], cwd: '/', hostname: name, mounts: [], endpoints: [], ports: [], resources: {},
    restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 5000, ...extra,
  };
}
const web = (name = 'web', extra: Partial<ContainerCreateSpec> = {}) =>
  spec(name, { endpoints: [{ network: 'front', aliases: [name] }], ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], ...extra });

const code = (e: unknown) => (e instanceof TsstackError ? e.code : undefined);
const intents = (e: Env) => { try { return readdirSync(join(e.dir, 'lib', 'intents')); } catch { return []; } };
const dirs = (e: Env) => { try { return readdirSync(join(e.dir, 'lib', 'containers')); } catch { return []; } };
const steps = (e: Env) => e.h.log.names();

// ------------------------------------------------------------ create

test('create: rootfs, sandbox, endpoint, ports, then the bundle; the record says created', async (t) => {
  const e = await env();
  const info = await e.c.create(web());
  t.deepEqual(steps(e), ['images.mountRootfs', 'net.createSandbox', 'net.connect', 'net.publish', 'bundle.write']);
  t.like(info, { name: 'web', status: 'created', addresses: { front: '10.88.0.2' } });
  t.deepEqual(info.ports, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  const cfg = e.h.bundle.read(join(e.dir, 'lib', 'containers', info.id, 'bundle'));
  t.deepEqual(cfg.process.args, ['sleep', '60']);
  t.true(cfg.linux.namespaces.some((n: any) => n.type === 'network' && n.path === join(e.dir, 'run', 'netns', info.id)));
  t.deepEqual(intents(e), []);
});

test('a create whose start follows gets the DNS server going, once, without waiting for it; a plain create does not', async (t) => {
  const e = await env();
  await e.c.create(web('plain'));
  t.false(steps(e).includes('dns.ensureRunning'));
  let calls = 0;
  e.h.dns.ensureRunning = () => { calls++; return new Promise<never>(() => {}); }; // never up: the creates must not wait for it
  await e.c.create(web('web', { ports: [] }), { startSoon: true });
  await e.c.create(web('web2', { ports: [] }), { startSoon: true });
  t.is(calls, 1);
});

test('create with a name in use is a CONFLICT and makes nothing; a bad name is USAGE', async (t) => {
  const e = await env();
  await e.c.create(spec('a'));
  e.h.log.calls = [];
  const err = await t.throwsAsync(e.c.create(spec('a')));
  t.is(code(err), 'CONFLICT');
  t.regex(err!.message, /container name "a" is already used/);
  t.is(code(await t.throwsAsync(e.c.create(spec('-x')))), 'USAGE');
  t.deepEqual(steps(e), []);
  t.is(dirs(e).length, 1);
});

test('a create that fails at publish undoes the sandbox and the rootfs: no directory, no lease, no intent', async (t) => {
  const e = await env();
  await e.c.create(web('a'));
  e.h.log.calls = [];
  const err = await t.throwsAsync(e.c.create(web('b')));
  t.is(code(err), 'CONFLICT');
  t.regex(err!.message, /host port 0\.0\.0\.0:8080\/tcp is already published/);
  t.deepEqual(steps(e), ['images.mountRootfs', 'net.createSandbox', 'net.connect', 'net.publish', 'net.removeSandbox', 'images.unmountRootfs']);
  t.is(dirs(e).length, 1);
  t.deepEqual(intents(e), []);
  t.is(e.nd.sandbox.namespaces.size, 1, 'only a\'s sandbox is left');
  t.deepEqual((await e.c.list()).map((x) => x.name), ['a']);
});

test('a create that fails writing the bundle undoes everything in reverse order', async (t) => {
  const e = await env();
  e.h.log.failOn('bundle.write', 'ENOSPC');
  await t.throwsAsync(e.c.create(web()), { message: 'ENOSPC' });
  t.deepEqual(steps(e), ['images.mountRootfs', 'net.createSandbox', 'net.connect', 'net.publish', 'bundle.write', 'net.unpublish', 'net.removeSandbox', 'images.unmountRootfs']);
  t.deepEqual(dirs(e), []);
  t.deepEqual(intents(e), []);
  t.deepEqual(e.net.publishedPorts(), []);
  await e.net.remove('front'); // no lease left on it
});

test('a create that fails mounting the rootfs touches no network and leaves nothing', async (t) => {
  const e = await env();
  e.h.log.failOn('images.mountRootfs', 'image layers missing');
  await t.throwsAsync(e.c.create(web()), { message: 'image layers missing' });
  t.deepEqual(steps(e), ['images.mountRootfs']);
  t.deepEqual(dirs(e), []);
  t.deepEqual(intents(e), []);
});

test('a create whose undo fails keeps the directory, the record and the intent for recovery; remove finishes it', async (t) => {
  const e = await env();
  e.h.log.failOn('bundle.write', 'ENOSPC');
  e.h.log.failOn('images.unmountRootfs', 'EBUSY');
  await t.throwsAsync(e.c.create(web()), { message: 'ENOSPC' });
  t.is(dirs(e).length, 1);
  t.is(intents(e).length, 1);
  await e.c.remove('web');
  t.deepEqual(dirs(e), []);
  t.deepEqual(intents(e), []);
});

test('a volume that does not exist is NOT_FOUND naming it and its target, and the create is undone (also the empty sandbox)', async (t) => {
  const e = await env();
  const err = await t.throwsAsync(e.c.create(spec('db', { mounts: [{ type: 'volume', source: 'data', target: '/var/lib/db' }] })));
  t.is(code(err), 'NOT_FOUND');
  t.regex(err!.message, /volume "data" \(mounted at \/var\/lib\/db in db\) does not exist/);
  t.deepEqual(steps(e), ['images.mountRootfs', 'net.createSandbox', 'net.removeSandbox', 'images.unmountRootfs']);
  t.is(e.nd.sandbox.namespaces.size, 0);
  t.deepEqual(dirs(e), []);
});

// ------------------------------------------------------------ start / stop

test('a container with serviceNames false is given to the DNS server without its service (its own name only: run\'s one-offs)', async (t) => {
  const e = await env();
  const { id } = await e.c.create(web('one-off', { ports: [], serviceNames: false, endpoints: [{ network: 'front', aliases: [] }] }));
  await e.c.start(id);
  t.is(e.h.dns.records.get(id)?.service, undefined);
  t.is(e.h.dns.records.get(id)?.name, 'one-off');
});

test('the starts after the first list the networks again only when a network was made or removed, or a gateway is new', async (t) => {
  const e = await env();
  for (const n of ['a', 'b', 'c']) await e.c.create(web(n, { ports: [] }));
  const gateways = () => steps(e).filter((s) => s === 'net.gateways').length;
  e.h.log.calls = [];
  await e.c.start('a');
  await e.c.start('b');
  t.is(gateways(), 1); // b: the server listens on front's gateway already, set by this process
  t.is(steps(e).filter((s) => s === 'dns.ensureRunning').length, 2); // but b still makes sure the server runs
  await e.net.create({ name: 'back', labels: {}, subnet: '10.89.0.0/24' });
  await e.c.start('c');
  t.is(gateways(), 2); // a network was made since: the server must listen on it too
  const { id } = await e.c.create(spec('d', { endpoints: [{ network: 'back', aliases: ['d'] }] }));
  await e.c.start(id);
  t.is(gateways(), 2); // back's gateway was set with c's start
  await e.c.stop('c'); await e.c.remove('c');
  await e.c.stop(id); await e.c.remove(id);
  await e.net.remove('back');
  await e.net.create({ name: 'back', labels: {}, subnet: '10.90.0.0/24' });
  const d2 = await e.c.create(spec('d2', { endpoints: [{ network: 'back', aliases: ['d2'] }] }));
  await e.c.start(d2.id);
  t.is(gateways(), 3); // back made again elsewhere: listed again
});

test('start: rootfs, DNS names, the DNS server, then the monitor with the spec\'s policy; the container runs', async (t) => {
  const e = await env();
  const { id } = await e.c.create(web('web', { restart: 'on-failure', stopSignal: 'SIGQUIT', healthcheck: { test: ['CMD-SHELL', 'true'], interval: 1000 } as never }));
  e.h.log.calls = [];
  await e.c.start('web');
  t.deepEqual(steps(e), ['images.mountRootfs', 'dns.set', 'net.gateways', 'dns.ensureRunning', 'monitor.start']);
  const o = e.h.monitor.byId.get(id)!.opts;
  t.like(o, { restart: 'on-failure', stopSignal: 'SIGQUIT', stopTimeoutMs: 5000 });
  t.deepEqual(o.health?.argv, ['/bin/sh', '-c', 'true']);
  t.like(e.h.dns.records.get(id), { name: 'web', service: 'web', project: 'p', networks: { front: { address: '10.88.0.2', aliases: ['web'] } } });
  const info = await e.c.inspect('web');
  t.is(info!.status, 'running');
  t.is(info!.pid, e.h.monitor.byId.get(id)!.pid);
});

/** The DNS server's two steps (dns/service.ts writeContainer): names written at once, their load when `load` says. */
function twoStepDns(e: Env, load: Promise<void>): void {
  Object.assign(e.h.dns, {
    writeContainer: async (rec: Parameters<typeof e.h.dns.setContainer>[0]) => {
      e.h.dns.setContainer(rec);
      return { loaded: load.then(() => { e.h.log.hit('dns.loaded'); }) };
    },
  });
}

test('a start\'s DNS names load while the monitor starts the container; the start returns once they have', async (t) => {
  const e = await env();
  await e.c.create(web());
  let load!: () => void;
  twoStepDns(e, new Promise<void>((r) => { load = r; }));
  e.h.log.calls = [];
  let returned = false;
  const started = e.c.start('web').then(() => { returned = true; });
  for (let i = 0; i < 100 && !steps(e).includes('monitor.start'); i++) await new Promise((r) => setTimeout(r, 5));
  t.deepEqual(steps(e), ['images.mountRootfs', 'dns.set', 'net.gateways', 'dns.ensureRunning', 'monitor.start'], 'the monitor started before the names loaded');
  await new Promise((r) => setTimeout(r, 20));
  t.false(returned, 'not returned before the names loaded');
  load();
  await started;
  t.is(steps(e).at(-1), 'dns.loaded');
  t.is((await e.c.inspect('web'))!.status, 'running');
});

test('names the DNS server does not load fail the start, as before the monitor ran: the container is stopped again', async (t) => {
  const e = await env();
  await e.c.create(web());
  const failing = Promise.reject(new TsstackError('NETWORK', 'the DNS server did not load records serial 7 within 5000 ms'));
  failing.catch(() => {}); // handled where the start awaits it
  twoStepDns(e, failing);
  const err = await t.throwsAsync(e.c.start('web'));
  t.regex(err!.message, /did not load records/);
  t.not((await e.c.inspect('web'))!.status, 'running');
});

test('start of a running container starts no second monitor', async (t) => {
  const e = await env();
  await e.c.create(spec('a'));
  await e.c.start('a');
  await e.c.start('a');
  t.is(steps(e).filter((s) => s === 'monitor.start').length, 1);
});

test('stop takes the DNS names away as it begins, asks the monitor, and leaves the container exited; again is a no-op', async (t) => {
  const e = await env();
  await e.c.create(web());
  await e.c.start('web');
  e.h.log.calls = [];
  await e.c.stop('web');
  t.deepEqual(steps(e), ['dns.remove', 'monitor.requestStop']);
  t.true(e.h.log.calls.includes(`monitor.requestStop ${(await e.c.inspect('web'))!.id.slice(0, 12)} 5000`), 'the spec\'s grace period');
  t.like(await e.c.inspect('web'), { status: 'exited', exitCode: 143 });
  e.h.log.calls = [];
  await e.c.stop('web');
  t.deepEqual(steps(e), []);
});

test('pre_stop hooks run before the stop within the grace period; a failing one is a warning and the stop goes on', async (t) => {
  const e = await env();
  await e.c.create(spec('db', { preStop: [{ argv: ['pg_ctl', 'stop'] }, { argv: ['sync'] }] }));
  await e.c.start('db');
  e.h.hooks.results.push(['pg_ctl', { code: 3, output: 'server not running\n', timedOut: false }]);
  e.h.log.calls = [];
  await e.c.stop('db');
  t.deepEqual(steps(e), ['hooks.run', 'hooks.run', 'monitor.requestStop']);
  t.is(e.warnings.length, 1);
  t.regex(e.warnings[0]!, /service db \(container db\): hook pre_stop\[0\] \(pg_ctl stop\) failed with exit code 3: server not running/);
  t.is((await e.c.inspect('db'))!.status, 'exited');
});

test('stop with no grace period (remove --force) runs no pre_stop hook', async (t) => {
  const e = await env();
  await e.c.create(spec('db', { preStop: [{ argv: ['pg_ctl', 'stop'] }] }));
  await e.c.start('db');
  e.h.log.calls = [];
  await e.c.stop('db', 0);
  t.deepEqual(steps(e), ['monitor.requestStop']);
});

test('a failing post_start hook fails start naming the service and the hook; the container keeps running', async (t) => {
  const e = await env();
  await e.c.create(spec('app', { postStart: [{ argv: ['true'] }, { argv: ['migrate', '--up'] }] }));
  e.h.hooks.results.push(['migrate', { code: 1, output: 'no database\n', timedOut: false }]);
  const err = await t.throwsAsync(e.c.start('app'));
  t.is(code(err), 'RUNTIME');
  t.regex(err!.message, /service app \(container app\): hook post_start\[1\] \(migrate --up\) failed with exit code 1: no database/);
  t.is((await e.c.inspect('app'))!.status, 'running');
  t.deepEqual(steps(e).filter((s) => s.startsWith('hooks')), ['hooks.run', 'hooks.run']);
});

test('kill with SIGKILL ends a restart:no container for good and takes its names away; another signal does not', async (t) => {
  const e = await env();
  await e.c.create(web());
  await e.c.start('web');
  e.h.log.calls = [];
  await e.c.kill('web', 'SIGUSR1');
  t.deepEqual(steps(e), ['monitor.control']);
  e.h.log.calls = [];
  await e.c.kill('web', 'SIGKILL');
  t.deepEqual(steps(e), ['monitor.control', 'dns.remove']);
  t.like(await e.c.inspect('web'), { status: 'exited', exitCode: 137 });
  t.is(code(await t.throwsAsync(e.c.kill('web'))), 'CONFLICT');
});

// ------------------------------------------------------------ remove

test('remove of a running container is a CONFLICT; with force it stops it, unpublishes its ports, then undoes the rest of create side by side', async (t) => {
  const e = await env();
  const { id } = await e.c.create(web());
  await e.c.start('web');
  t.is(code(await t.throwsAsync(e.c.remove('web'))), 'CONFLICT');
  e.h.log.calls = [];
  await e.c.remove('web', { force: true });
  const s = steps(e);
  t.deepEqual(s.slice(0, 3), ['dns.remove', 'monitor.requestStop', 'net.unpublish']);
  t.deepEqual(s.slice(3).sort(), ['dns.remove', 'images.unmountRootfs', 'net.removeSandbox', 'runtime.removeCgroup']);
  t.true(e.h.log.calls.includes(`monitor.requestStop ${id.slice(0, 12)} 0`));
  t.deepEqual(dirs(e), []);
  t.deepEqual(intents(e), []);
  t.deepEqual(e.nd.sandbox.namespaces.size, 0);
  await e.net.remove('front'); // its lease went with it
});

test('remove deletes what the runtime still holds of a container that exited', async (t) => {
  const e = await env();
  const { id } = await e.c.create(spec('a', { restart: 'always' }));
  await e.c.start('a');
  e.h.monitor.exit(id, 1, true);
  e.h.runtime.records.add(id); // the runtime kept its state
  e.h.log.calls = [];
  await e.c.remove('a');
  t.is(steps(e)[0], 'runtime.delete');
  t.false(e.h.runtime.records.has(id));
});

test('a removal with a failed step keeps the record and the intent; a second removal finishes', async (t) => {
  const e = await env();
  await e.c.create(web());
  e.h.log.failOn('images.unmountRootfs', 'EBUSY');
  const err = await t.throwsAsync(e.c.remove('web'));
  t.is(code(err), 'RUNTIME');
  t.regex(err!.message, /container web was not removed completely: rootfs: EBUSY/);
  t.is(dirs(e).length, 1);
  t.is(intents(e).length, 1);
  t.truthy(await e.c.inspect('web'));
  await e.c.remove('web');
  t.deepEqual(dirs(e), []);
  t.deepEqual(intents(e), []);
});

test('a removal sweeps the container\'s files while its sandbox goes (a wait for the kernel): the record stays until the end', async (t) => {
  const e = await env();
  const { id } = await e.c.create(web());
  const dir = e.c.containerDir(id);
  t.true(readdirSync(dir).length > 2);
  let during: string[] = [];
  const removeSandbox = e.net.removeSandbox.bind(e.net);
  e.net.removeSandbox = async (cid: string) => {
    await new Promise((r) => setTimeout(r, 50)); // the namespace dying
    during = readdirSync(dir).sort();
    return removeSandbox(cid);
  };
  await e.c.remove('web');
  t.true(during.includes('container.json'), `meanwhile: ${during.join(' ')}`);
  t.deepEqual(during.filter((n) => n !== 'container.json' && n !== 'rootfs'), [], 'all else went meanwhile');
  t.deepEqual(dirs(e), []);
  t.deepEqual(intents(e), []);
});

test('remove of an unknown container is NOT_FOUND', async (t) => {
  const e = await env();
  t.is(code(await t.throwsAsync(e.c.remove('ghost'))), 'NOT_FOUND');
});

// ------------------------------------------------------------ what the monitor says

test('a container whose monitor vanished while it ran is dead with exit 255', async (t) => {
  const e = await env();
  const { id } = await e.c.create(spec('a'));
  await e.c.start('a');
  e.h.monitor.crash(id);
  e.h.monitor.procs.clear(); // and the container went with it (a reboot)
  t.like(await e.c.inspect('a'), { status: 'dead', exitCode: 255 });
});

/**
 * A started one-shot container whose monitor reports at the worst moment: the first read of its state
 * says "running", and right after that read the container exits with `code` (the monitor writes
 * "exited" and ends), before the caller checks the monitor's liveness.
 */
async function exitsRightAfterTheRead(code: number) {
  const e = await env();
  const { id } = await e.c.create(spec('job'));
  await e.c.start('job');
  const read = e.h.monitor.state.bind(e.h.monitor);
  let first = true;
  e.h.monitor.state = (path: string) => {
    const st = read(path);
    if (first) e.h.monitor.exit(id, code);
    first = false;
    return st;
  };
  return e;
}

test('a monitor that writes its last state and exits between the state read and its liveness check: exited with its code, not dead', async (t) => {
  const e = await exitsRightAfterTheRead(0);
  t.like(await e.c.inspect('job'), { status: 'exited', exitCode: 0 });
});

test('wait() across the same race: the code the container exited with', async (t) => {
  const e = await exitsRightAfterTheRead(3);
  t.is(await e.c.wait('job'), 3);
});

test('a container left running without its monitor is unsupervised; stop ends it through the runtime', async (t) => {
  const e = await env();
  const { id } = await e.c.create(spec('a', { stopSignal: 'SIGINT' }));
  await e.c.start('a');
  e.h.monitor.crash(id);
  t.like(await e.c.inspect('a'), { status: 'running', unsupervised: true });
  e.h.log.calls = [];
  await e.c.stop('a');
  t.deepEqual(e.h.log.calls.filter((c) => c.startsWith('runtime')), [`runtime.kill ${id.slice(0, 12)} SIGINT`, `runtime.delete ${id.slice(0, 12)}`]);
  const st = e.c.monitorStateOf('a')!;
  t.like(st, { status: 'exited', exitCode: 130, signal: 2 });
  t.regex(st.error ?? '', /monitor had died/);
});

test('wait resolves with the exit code once the container has exited', async (t) => {
  const e = await env();
  const { id } = await e.c.create(spec('job'));
  await e.c.start('job');
  const w = e.c.wait('job');
  setTimeout(() => e.h.monitor.exit(id, 3), 30);
  t.is(await w, 3);
});

test('runAttached: running with the pid while it runs, then exited with its code; names up, then down', async (t) => {
  const e = await env();
  await e.c.create(web('cli', { ports: [] }));
  e.h.attach.exitCode = 42;
  let during: unknown;
  e.h.attach.during = async () => { during = await e.c.inspect('cli'); };
  e.h.log.calls = [];
  t.is(await e.c.runAttached('cli'), 42);
  t.like(during, { status: 'running', pid: 7777 });
  t.deepEqual(steps(e).filter((s) => !s.startsWith('images') && !s.startsWith('net.')), ['dns.set', 'dns.ensureRunning', 'monitor.writeState', 'attach.run', 'monitor.writeState', 'monitor.writeState', 'dns.remove']);
  t.like(await e.c.inspect('cli'), { status: 'exited', exitCode: 42 });
});

test('runAttached of a running container is a CONFLICT', async (t) => {
  const e = await env();
  await e.c.create(spec('a'));
  await e.c.start('a');
  t.is(code(await t.throwsAsync(e.c.runAttached('a'))), 'CONFLICT');
});

test('network_mode container:peer joins the peer\'s sandbox, makes none, and re-reads its path at start', async (t) => {
  const e = await env();
  const peer = await e.c.create(web('peer', { ports: [] }));
  e.h.log.calls = [];
  const side = await e.c.create(spec('side', { networkMode: 'container:peer' }));
  t.false(steps(e).some((s) => s.startsWith('net.')));
  const bundle = join(e.dir, 'lib', 'containers', side.id, 'bundle');
  const netns = (b: string) => e.h.bundle.read(b).linux.namespaces.find((n: any) => n.type === 'network').path;
  t.is(netns(bundle), join(e.dir, 'run', 'netns', peer.id));
  // the bundle is rewritten at start with the peer's current namespace
  const cfg = e.h.bundle.read(bundle);
  cfg.linux.namespaces.find((n: any) => n.type === 'network').path = '/stale';
  e.h.bundle.write(bundle, cfg);
  await e.c.start('side');
  t.is(netns(bundle), join(e.dir, 'run', 'netns', peer.id));
});

test('a pid namespace shared with a peer that is not running fails start, naming it', async (t) => {
  const e = await env();
  await e.c.create(spec('peer'));
  await e.c.create(spec('side', { pidMode: 'container:peer' }));
  const err = await t.throwsAsync(e.c.start('side'));
  t.is(code(err), 'RUNTIME');
  t.regex(err!.message, /pid: container:peer: that container is not running/);
  t.false(steps(e).includes('monitor.start'));
});

test('logging driver none: the monitor writes to /dev/null and logs() says why there is nothing', async (t) => {
  const e = await env();
  const { id } = await e.c.create(spec('quiet', { logDriver: 'none' }));
  await e.c.start('quiet');
  t.is(e.h.monitor.byId.get(id)!.opts.logPath, '/dev/null');
  const it = e.c.logs('quiet', {})[Symbol.asyncIterator]();
  const err = await t.throwsAsync(it.next());
  t.is(code(err), 'CONFLICT');
  t.regex(err!.message, /logging driver "none"/);
});

test('list filters by labels and sorts by name', async (t) => {
  const e = await env();
  await e.c.create(spec('b'));
  await e.c.create(spec('a'));
  await e.c.create(spec('c', { labels: { 'tsstack.project': 'other' } }));
  t.deepEqual((await e.c.list({ 'tsstack.project': 'p' })).map((x) => x.name), ['a', 'b']);
  t.true(existsSync(join(e.dir, 'lib', 'containers')));
});
