// recovery.ts's decisions over the real Containers and NetworkManager with fake host parts
// (test/fakes/): what a dead command's intent makes it undo, what it leaves alone. No root.
// The kill points of real commands are in test/faults/crash.test.ts.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateSpec, Engine } from '../../src/engine/api.js';
import { beginIntent } from '../../src/engine/intents.js';
import { recover } from '../../src/engine/recovery.js';
import { fakeParts, type FakeParts } from '../fakes/containers.js';

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A pid no process has (a child that has exited). */
const deadPid = (() => spawnSync('true').pid!)();

interface Env extends FakeParts { root: string; engine: Engine }

async function env(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-recunit-'));
  dirs.push(dir);
  const root = join(dir, 'lib'), runRoot = join(dir, 'run');
  const p = fakeParts(root, runRoot);
  await p.net.create({ name: 'p_default', labels: { 'tsstack.project': 'p' }, subnet: '10.66.0.0/24' });
  p.h.log.calls = [];
  // the parts recovery uses, as the engine offers them
  const engine = { root, runRoot, containers: p.c, networks: p.net } as unknown as Engine;
  return { ...p, root, engine };
}

function spec(name: string, project = 'p', extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:0123', labels: { 'tsstack.project': project, 'tsstack.service': name },
    args: ['sleep', '60'], env: [], cwd: '/', hostname: name, mounts: [], endpoints: [{ network: 'p_default', aliases: [] }], ports: [],
    resources: {}, restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 1000, ...extra,
  };
}

const intentFiles = (e: Env) => { try { return readdirSync(join(e.root, 'intents')); } catch { return []; } };
/** Makes the intents' writer a process that is gone (a command killed). */
function killWriter(e: Env): void {
  for (const f of intentFiles(e)) {
    const p = join(e.root, 'intents', f);
    writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), pid: deadPid }) + '\n');
  }
}
const containerDirs = (e: Env) => { try { return readdirSync(join(e.root, 'containers')); } catch { return []; } };

test('a container left half created by a dead command is removed with its sandbox; the intent goes', async (t) => {
  const e = await env();
  e.h.log.failOn('bundle.write', 'killed');
  e.h.log.failOn('images.unmountRootfs', 'EBUSY'); // the undo fails too: everything stays, as after a SIGKILL
  await t.throwsAsync(e.c.create(spec('web')));
  killWriter(e);
  e.h.log.calls = [];
  const r = await recover(e.engine, 'p');
  t.deepEqual(r.problems, []);
  t.true(r.done.some((d) => /removed container [0-9a-f]{12} left half created/.test(d)));
  t.deepEqual(containerDirs(e), []);
  t.deepEqual(intentFiles(e), []);
  t.is(e.nd.sandbox.namespaces.size, 0);
  t.true(e.h.log.names().includes('net.removeSandbox'));
});

test('an intent of a live command is left alone', async (t) => {
  const e = await env();
  e.h.log.failOn('bundle.write', 'killed');
  e.h.log.failOn('images.unmountRootfs', 'EBUSY');
  await t.throwsAsync(e.c.create(spec('web')));
  e.h.log.calls = [];
  const r = await recover(e.engine, 'p');
  t.deepEqual(r.done, []);
  t.is(containerDirs(e).length, 1);
  t.is(intentFiles(e).length, 1);
  t.deepEqual(e.h.log.calls, []);
});

test('another project\'s dead intent is not this project\'s to undo', async (t) => {
  const e = await env();
  e.h.log.failOn('bundle.write', 'killed');
  e.h.log.failOn('images.unmountRootfs', 'EBUSY');
  await t.throwsAsync(e.c.create(spec('web', 'q')));
  killWriter(e);
  const r = await recover(e.engine, 'p');
  t.deepEqual(r.done, []);
  t.is(containerDirs(e).length, 1);
  t.true((await recover(e.engine, 'q')).done.length > 0);
  t.deepEqual(containerDirs(e), []);
});

test('a network left half created by a dead command is removed, bridge and record', async (t) => {
  const e = await env();
  const n = await e.net.create({ name: 'p_back', labels: { 'tsstack.project': 'p' } });
  beginIntent(e.root, { kind: 'network', op: 'create', name: 'p_back', project: 'p', link: n.bridge });
  killWriter(e);
  const r = await recover(e.engine, 'p');
  t.true(r.done.includes('removed network p_back left half created'));
  t.is(await e.net.inspect('p_back'), undefined);
  t.false(e.nd.links.links.has(n.bridge));
  t.truthy(await e.net.inspect('p_default'), 'the other network stays');
});

test('a network removal killed after forgetting the record: the bridge it names goes and the table is rebuilt', async (t) => {
  const e = await env();
  const n = await e.net.create({ name: 'p_back', labels: { 'tsstack.project': 'p' } });
  beginIntent(e.root, { kind: 'network', op: 'remove', name: 'p_back', project: 'p', link: n.bridge });
  rmSync(join(e.root, 'networks', 'p_back.json')); // forgotten; bridge and table rules still there
  killWriter(e);
  const r = await recover(e.engine, 'p');
  t.true(r.done.some((d) => /removed what was left of network p_back/.test(d)));
  t.false(e.nd.links.links.has(n.bridge));
  t.deepEqual(await e.net.faults(['p_default']), []);
  t.deepEqual(intentFiles(e), []);
});

test('a record without a bundle (an older tsstack) is removed; a container directory without a record goes', async (t) => {
  const e = await env();
  const a = await e.c.create(spec('a'));
  rmSync(join(e.root, 'containers', a.id, 'bundle', 'config.json'));
  const orphan = join(e.root, 'containers', 'f'.repeat(64));
  mkdirSync(join(orphan, 'upper'), { recursive: true });
  const b = await e.c.create(spec('b'));
  const r = await recover(e.engine, 'p');
  t.deepEqual(r.problems, []);
  t.false(existsSync(join(e.root, 'containers', a.id)));
  t.false(existsSync(orphan));
  t.true(existsSync(join(e.root, 'containers', b.id)), 'a finished container stays');
});

test('dead writers\' temps in another project\'s containers are left to that project\'s recovery (one project\'s command reads only its own container directories)', async (t) => {
  const e = await env();
  const mine = await e.c.create(spec('a'));
  const theirs = await e.c.create(spec('b', 'q'));
  const temp = (id: string, sub = '') => join(e.root, 'containers', id, sub, `.container.json.${deadPid}.abc.tmp`);
  for (const id of [mine.id, theirs.id]) {
    writeFileSync(temp(id), '');
    writeFileSync(temp(id, 'bundle'), '');
  }
  const r = await recover(e.engine, 'p');
  t.deepEqual(r.problems, []);
  t.false(existsSync(temp(mine.id)));
  t.false(existsSync(temp(mine.id, 'bundle')));
  t.true(existsSync(temp(theirs.id)), 'project q\'s temp stays for q');
  t.true(existsSync(temp(theirs.id, 'bundle')));
  await recover(e.engine, 'q');
  t.false(existsSync(temp(theirs.id)));
  t.false(existsSync(temp(theirs.id, 'bundle')));
});
