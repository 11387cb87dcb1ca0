import test from 'ava';
import { desiredState } from '../../src/reconcile/desired.js';
import { diff, planDown } from '../../src/reconcile/diff.js';
import { makePlan, up } from '../../src/reconcile/up.js';
import { observeFor } from '../../src/reconcile/up.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';
import type { StackModel } from '../../src/model/types.js';

const lines = (...l: string[]) => l.join('\n');

function engineWith(...refs: string[]): FakeEngine {
  const e = new FakeEngine();
  for (const r of refs) e.addImage(r, { Cmd: ['sh'], Env: ['PATH=/bin'] });
  return e;
}

async function planText(e: FakeEngine, m: StackModel, opts = {}): Promise<string> {
  return (await makePlan(e, m, opts)).plan.toString();
}

const redisApp = (env: Record<string, string> = { REDIS_URL: 'redis://redis:6379' }) => model('demo', {
  redis: { image: 'redis:7', ports: [{ target: 6379, published: { start: 6379, end: 6379 }, protocol: 'tcp', mode: 'ingress' }] },
  app: { image: 'busybox', environment: env, depends_on: { redis: { condition: 'service_started', required: true } } },
});

test('from nothing: network, then services in dependency order', async (t) => {
  const e = engineWith('redis:7', 'busybox');
  t.is(await planText(e, redisApp()), lines(
    'create-network network:default (missing)',
    'create service:redis:1 (missing)',
    'create service:app:1 (missing)',
  ));
});

test('second up is a no-op; changed env recreates only that service and names the field', async (t) => {
  const e = engineWith('redis:7', 'busybox');
  const r = await up(e, redisApp(), { pollMs: 1 });
  t.deepEqual(r.result.failed, []);
  t.true((await makePlan(e, redisApp())).plan.empty);
  t.is(await planText(e, redisApp({ REDIS_URL: 'redis://other:6379', DEBUG: '1' })), 'recreate service:app:1 (changed: environment.DEBUG, environment.REDIS_URL)');
});

test('changed image digest and ports are named', async (t) => {
  const e = engineWith('redis:7', 'busybox');
  await up(e, redisApp(), { pollMs: 1 });
  e.addImage('redis:7', { Cmd: ['sh'], Env: ['PATH=/bin'] }, 'sha256:newdigest');
  const m = redisApp();
  m.services.redis.ports = [{ target: 6379, published: { start: 6380, end: 6380 }, protocol: 'tcp', mode: 'ingress' }];
  t.is(await planText(e, m), 'recreate service:redis:1 (changed: image digest, ports[0])');
});

test('missing images are pulled first, with never as a problem', async (t) => {
  const e = engineWith('busybox');
  const m = redisApp();
  t.is(await planText(e, m), lines(
    'create-network network:default (missing)',
    'pull image:redis:7 (not present locally)',
    'create service:redis:1 (missing)',
    'create service:app:1 (missing)',
  ));
  const { plan } = await makePlan(e, m, { pull: 'never' });
  t.deepEqual(plan.problems, [{ kind: 'missing', message: 'image redis:7 (service redis) is not present locally and the pull policy is never' }]);
});

test('scale: down removes highest numbers first, up adds', async (t) => {
  const e = engineWith('busybox');
  const m = model('s', { web: { image: 'busybox', deploy: { replicas: 3 } } });
  await up(e, m, { pollMs: 1 });
  t.is(await planText(e, m, { scale: { web: 1 } }), lines('remove container:s-web-3 (scale web to 1)', 'remove container:s-web-2 (scale web to 1)'));
  t.is(await planText(e, m, { scale: { web: 4 } }), 'create service:web:4 (missing)');
});

test('one-shot exited 0 is not re-run; non-zero is started again', async (t) => {
  const e = engineWith('busybox');
  const m = model('o', { init: { image: 'busybox', restart: 'no' }, svc: { image: 'busybox', restart: 'always' } });
  e.behaviour = () => ({ status: 'exited', exitCode: 0 });
  await up(e, m, { pollMs: 1 });
  t.is(await planText(e, m), 'start service:svc:1 (exited (0))');
  e.ctrs.forEach((c) => { if (c.name === 'o-init-1') c.exitCode = 3; });
  t.is(await planText(e, m), lines('start service:init:1 (exited (3))', 'start service:svc:1 (exited (0))'));
});

test('orphans: warned by default, removed with --remove-orphans', async (t) => {
  const e = engineWith('busybox');
  await up(e, model('p', { a: { image: 'busybox' }, b: { image: 'busybox' } }), { pollMs: 1 });
  const m = model('p', { a: { image: 'busybox' } });
  const { plan } = await makePlan(e, m);
  t.true(plan.empty);
  t.regex(plan.warnings[0], /orphan containers \(p-b-1\)/);
  t.is(await planText(e, m, { removeOrphans: true }), 'remove-orphan container:p-b-1 (service b is not in the stack)');
});

test('force-recreate and no-recreate', async (t) => {
  const e = engineWith('busybox');
  await up(e, model('f', { a: { image: 'busybox' } }), { pollMs: 1 });
  t.is(await planText(e, model('f', { a: { image: 'busybox' } }), { forceRecreate: true }), 'recreate service:a:1 (forced (--force-recreate))');
  t.is(await planText(e, model('f', { a: { image: 'busybox', command: ['echo'] } }), { noRecreate: true }), '');
});

test('selection adds dependencies unless --no-deps', async (t) => {
  const e = engineWith('busybox');
  const m = model('sel', {
    db: { image: 'busybox' },
    web: { image: 'busybox', depends_on: { db: { condition: 'service_started', required: true } } },
    other: { image: 'busybox' },
  });
  t.is(await planText(e, m, { services: ['web'] }), lines('create-network network:default (missing)', 'create service:db:1 (missing)', 'create service:web:1 (missing)'));
  t.is(await planText(e, m, { services: ['web'], noDeps: true }), lines('create-network network:default (missing)', 'create service:web:1 (missing)'));
});

test('topological order breaks ties by name and rejects cycles', async (t) => {
  const dep = (s: string) => ({ [s]: { condition: 'service_started' as const, required: true } });
  const e = engineWith('busybox');
  const m = model('t', { z: { image: 'busybox' }, y: { image: 'busybox', depends_on: dep('z') }, a: { image: 'busybox', depends_on: dep('y') }, b: { image: 'busybox' } });
  t.is(await planText(e, m), lines('create-network network:default (missing)', 'create service:b:1 (missing)', 'create service:z:1 (missing)', 'create service:y:1 (missing)', 'create service:a:1 (missing)'));
  const cyc = model('c', { a: { image: 'busybox', depends_on: dep('b') }, b: { image: 'busybox', depends_on: dep('a') } });
  const err = await t.throwsAsync(makePlan(e, cyc));
  t.is(err?.message, 'dependency cycle between services: a -> b -> a');
});

test('named volumes and networks, external ones must exist', async (t) => {
  const e = engineWith('busybox');
  const m = model('v', { a: { image: 'busybox', volumes: [{ type: 'volume', source: 'data', target: '/data' }], networks: { back: {} } } }, {
    volumes: { data: { name: 'v_data', driver_opts: {}, labels: {} }, ext: { name: 'shared', external: true, driver_opts: {}, labels: {} } },
    networks: { back: { name: 'v_back', driver_opts: {}, labels: {} }, outside: { name: 'outside', external: true, driver_opts: {}, labels: {} } },
  });
  t.is(await planText(e, m), lines('create-network network:back (missing)', 'create-volume volume:data (missing)', 'create service:a:1 (missing)'));
  m.services.a.networks = { outside: {} };
  const { plan } = await makePlan(e, m);
  t.deepEqual(plan.problems, [{ kind: 'missing', message: 'network outside is declared as external but does not exist (networks.outside)' }]);
});

test('down removes containers, networks; volumes only with -v', async (t) => {
  const e = engineWith('busybox');
  const m = model('d', { a: { image: 'busybox', volumes: [{ type: 'volume', source: 'data', target: '/data' }] } }, { volumes: { data: { name: 'd_data', driver_opts: {}, labels: {} } } });
  await up(e, m, { pollMs: 1 });
  const obs = await observeFor(e, m);
  t.is(planDown(obs).toString(), lines('remove container:d-a-1 (down)', 'remove-network network:default (down)'));
  t.is(planDown(obs, { volumes: true }).toString(), lines('remove container:d-a-1 (down)', 'remove-network network:default (down)', 'remove-volume volume:data (down -v)'));
});

test('desired config merges image defaults: entrypoint, cmd, env, workdir, healthcheck', (t) => {
  const m = model('i', {
    a: { image: 'img', environment: { B: '2', DROP: null }, command: ['run'] },
    b: { image: 'img', entrypoint: ['/x'], healthcheck: { test: ['CMD', 'true'], interval: 1000 } },
  });
  const d = desiredState(m, { img: { id: 'sha256:1', names: ['img'], chainIds: [], size: 0, config: { Entrypoint: ['/ep'], Cmd: ['def'], Env: ['A=1', 'DROP=x'], WorkingDir: '/w', Healthcheck: { Test: ['CMD-SHELL', 'check'], Interval: 5e9 } } } });
  const a = d.services.a.containers[0].config;
  t.deepEqual(a.command, ['/ep', 'run']);
  t.deepEqual(a.environment, { A: '1', B: '2' });
  t.is(a.working_dir, '/w');
  t.deepEqual(a.healthcheck, { test: ['CMD-SHELL', 'check'], interval: 5000, timeout: 30000, retries: 3, startPeriod: 0, startInterval: 5000 });
  const b = d.services.b.containers[0].config;
  t.deepEqual(b.command, ['/x']);
  t.is(b.healthcheck?.interval, 1000);
  t.not(d.services.a.containers[0].hash, d.services.b.containers[0].hash);
});

test('port ranges give each replica its own host port', (t) => {
  const m = model('r', { a: { image: 'img', scale: 3, ports: [{ target: 80, published: { start: 6005, end: 6015 }, protocol: 'tcp', mode: 'ingress' }] } });
  const d = desiredState(m, {});
  t.deepEqual(d.services.a.containers.map((c) => c.config.ports[0].hostPort), [6005, 6006, 6007]);
});

test('a network whose subnet changed is a problem naming the way out', async (t) => {
  const e = engineWith('busybox');
  const m = (subnet: string) => model('n', { a: { image: 'busybox' } }, { networks: { default: { name: 'n_default', ipam: { config: [{ subnet }] }, driver_opts: {}, labels: {} } } });
  await up(e, m('10.5.0.0/24'), { pollMs: 1 });
  const { plan } = await makePlan(e, m('10.6.0.0/24'));
  t.deepEqual(plan.problems, [{ kind: 'invalid', message: 'network n_default exists with subnet 10.5.0.0/24, the stack asks for 10.6.0.0/24 (networks.default); run `tsstack down` first to recreate it' }]);
});

test('depends_on.restart restarts a running dependent when its dependency is replaced', async (t) => {
  const e = engineWith('busybox');
  const m = (v: string) => model('rs', {
    db: { image: 'busybox', environment: { V: v } },
    web: { image: 'busybox', depends_on: { db: { condition: 'service_started', required: true, restart: true } } },
    other: { image: 'busybox', depends_on: { db: { condition: 'service_started', required: true } } },
  });
  await up(e, m('1'), { pollMs: 1 });
  t.is(await planText(e, m('2')), lines('recreate service:db:1 (changed: environment.V)', 'restart service:web:1 (dependency db replaced)'));
  e.journal.length = 0;
  await up(e, m('2'), { pollMs: 1 });
  t.deepEqual(e.journal.filter((j) => j.endsWith('rs-web-1')), ['stop rs-web-1', 'start rs-web-1']);
});

test('links (when the model has them) add an alias on the target and a dependency', (t) => {
  const m = model('l', { web: { image: 'img' }, db: { image: 'img' } });
  m.services.web!.links = [{ service: 'db', alias: 'database' }];
  const d = desiredState(m, {});
  t.deepEqual(d.services.db.containers[0].config.networks['l_default'].aliases, ['database', 'db']);
  t.deepEqual(Object.keys(d.services.web.dependsOn), ['db']);
});

test('a no-op plan does not consult the network engine; a change observes in full', async (t) => {
  const e = engineWith('busybox');
  const m = (v: string) => model('nn', { a: { image: 'busybox', environment: { V: v } } });
  await up(e, m('1'), { pollMs: 1 });
  e.networkCalls = 0;
  t.true((await makePlan(e, m('1'))).plan.empty);
  t.is(e.networkCalls, 0);
  t.is(await planText(e, m('2')), 'recreate service:a:1 (changed: environment.V)');
  t.is(e.networkCalls, 1);
});
