import test from 'ava';
import { up } from '../../src/reconcile/up.js';
import { judge } from '../../src/reconcile/apply.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';
import type { DependsOnCondition } from '../../src/model/types.js';
import type { ContainerInfo, Engine } from '../../src/engine/api.js';

const dep = (s: string, condition: DependsOnCondition, required = true) => ({ [s]: { condition, required } });
const status = (e: FakeEngine) => Object.fromEntries([...e.ctrs.values()].map((c) => [c.name, c.status + (c.health ? `/${c.health}` : '')]));

function engine(): FakeEngine {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  return e;
}

const hc = { test: ['CMD', 'true'], interval: 10 };

test('service_healthy: unhealthy dependency leaves the dependent created, names the container', async (t) => {
  const e = engine();
  e.behaviour = (s) => (s.name === 'u-fail-1' ? { health: 'unhealthy' } : {});
  const m = model('u', { fail: { image: 'busybox', healthcheck: hc }, depends: { image: 'busybox', depends_on: dep('fail', 'service_healthy') } });
  const r = await up(e, m, { pollMs: 1 });
  t.deepEqual(r.result.failed.map((f) => `${f.resource}: ${f.message}`), ['service:depends: container u-fail-1 is unhealthy']);
  t.deepEqual(status(e), { 'u-fail-1': 'running/unhealthy', 'u-depends-1': 'created' });
});

test('service_healthy waits for healthy; service_started does not', async (t) => {
  const e = engine();
  let healthy = false;
  e.behaviour = (s) => (s.name === 'h-db-1' ? { health: 'starting' } : {});
  setTimeout(() => { for (const c of e.ctrs.values()) if (c.name === 'h-db-1') c.health = 'healthy'; healthy = true; }, 30);
  const m = model('h', { db: { image: 'busybox', healthcheck: hc }, web: { image: 'busybox', depends_on: dep('db', 'service_healthy') } });
  const r = await up(e, m, { pollMs: 2 });
  t.deepEqual(r.result.failed, []);
  t.true(healthy);
  const j = e.journal.filter((l) => l.startsWith('start'));
  t.deepEqual(j, ['start h-db-1', 'start h-web-1']);
});

test('service_completed_successfully: init runs to completion first; failure blocks', async (t) => {
  const e = engine();
  e.behaviour = (s) => (s.name === 'i-init-1' ? { status: 'exited', exitCode: 0 } : {});
  const m = model('i', { init: { image: 'busybox' }, app: { image: 'busybox', depends_on: dep('init', 'service_completed_successfully') } });
  t.deepEqual((await up(e, m, { pollMs: 1 })).result.failed, []);
  t.deepEqual(status(e), { 'i-init-1': 'exited', 'i-app-1': 'running' });

  const e2 = engine();
  e2.behaviour = (s) => (s.name === 'i-init-1' ? { status: 'exited', exitCode: 3 } : {});
  const r = await up(e2, m, { pollMs: 1 });
  t.deepEqual(r.result.failed.map((f) => f.message), ["service init didn't complete successfully: container i-init-1 exited with code 3"]);
  t.is(status(e2)['i-app-1'], 'created');
});

test('an optional dependency that fails is a warning, the dependent starts', async (t) => {
  const e = engine();
  const m = model('o', { bar: { image: 'busybox' }, foo: { image: 'busybox', depends_on: dep('bar', 'service_healthy', false) } });
  const r = await up(e, m, { pollMs: 1 });
  t.deepEqual(r.result.failed, []);
  t.deepEqual(r.result.warnings, ['optional dependency "bar" failed to start: container o-bar-1 has no healthcheck configured, so service_healthy can never be met']);
  t.is(status(e)['o-foo-1'], 'running');
});

/** Wraps the fake engine's create so that each call takes 5 ms; `peak()` is the most calls seen in flight at once. */
function countingCreates(e: ReturnType<typeof engine>): { peak: () => number } {
  let inFlight = 0;
  let peak = 0;
  const orig = e.containers.create;
  e.containers.create = async (spec) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return orig(spec);
  };
  return { peak: () => peak };
}

test('bounded parallelism: never more than N engine calls at once', async (t) => {
  const e = engine();
  const { peak: peakOf } = countingCreates(e);
  const services: Record<string, object> = {};
  for (let i = 0; i < 12; i++) services[`s${i}`] = { image: 'busybox' };
  await up(e, model('par', services), { parallel: 3 });
  t.is(e.ctrs.size, 12);
  const peak = peakOf();
  t.true(peak <= 3 && peak >= 2, `peak ${peak}`);
});

test('container creates run up to 32 at once by default (they wait on the kernel, not the event loop)', async (t) => {
  const e = engine();
  const { peak: peakOf } = countingCreates(e);
  const services: Record<string, object> = {};
  for (let i = 0; i < 40; i++) services[`s${i}`] = { image: 'busybox' };
  await up(e, model('par32', services));
  t.is(e.ctrs.size, 40);
  const peak = peakOf();
  t.true(peak > 16 && peak <= 32, `peak ${peak}`);
});

test('an image that cannot be had stops up before anything is touched', async (t) => {
  const e = engine();
  const m = model('f', { a: { image: 'nope:1' }, b: { image: 'busybox' }, c: { image: 'busybox', depends_on: dep('a', 'service_started') } });
  const r = await up(e, m, { pollMs: 1 });
  t.deepEqual(r.result.failed.map((f) => `${f.resource}: ${f.message}`), ['image:nope:1: pull nope:1: not found in registry']);
  t.deepEqual(e.journal, ['pull nope:1']);
  t.deepEqual(status(e), {});
});

test('judge: the condition table', (t) => {
  const c = (p: Partial<ContainerInfo>): ContainerInfo => ({ id: 'x', name: 'p-s-1', image: 'i', imageId: 'i', labels: { 'tsstack.service': 's' }, status: 'running', created: '', restartCount: 0, addresses: {}, ports: [], ...p });
  t.is(judge([], 'service_started', 1), false);
  t.is(judge([c({})], 'service_started', 1), true);
  t.is(judge([c({ status: 'created' })], 'service_started', 1), false);
  t.is(judge([c({ health: 'starting' })], 'service_healthy', 1), false);
  t.is(judge([c({ health: 'healthy' })], 'service_healthy', 1), true);
  t.is(judge([c({ status: 'exited', exitCode: 0 })], 'service_completed_successfully', 1), true);
  t.regex(judge([c({ status: 'exited', exitCode: 2 })], 'service_completed_successfully', 1) as string, /exited with code 2/);
  t.is(judge([], 'service_healthy', 0), true);
});

test('a service with a build section is built when its image is missing (or with --build), then created from it', async (t) => {
  const e = engine();
  const m = model('b', { app: { build: { context: '/tmp', args: {}, labels: {}, tags: [] } } });
  const r = await up(e, m, { pollMs: 1 });
  t.deepEqual(r.result.failed, []);
  t.deepEqual(e.journal.slice(0, 3), ['build b-app', 'create-network b_default', 'create b-app-1']);
  t.is([...e.ctrs.values()][0].imageId, 'sha256:builtb-app');
  e.journal.length = 0;
  await up(e, m, { pollMs: 1 });
  t.deepEqual(e.journal, [], 'present image: no rebuild, no change');
  await up(e, m, { pollMs: 1, build: true });
  t.deepEqual(e.journal, ['build b-app'], '--build rebuilds; same image id: containers kept');
});

test('down: every stop at once, then the removals (bounded); a failed stop is reported and its container kept', async (t) => {
  const { apply } = await import('../../src/reconcile/apply.js');
  const { planDown } = await import('../../src/reconcile/diff.js');
  const { observeFor } = await import('../../src/reconcile/up.js');
  const e = engine();
  const services: Record<string, object> = {};
  for (let i = 0; i < 10; i++) services[`s${i}`] = { image: 'busybox' };
  const m = model('dn', services);
  await up(e, m, { pollMs: 1 });
  let stopping = 0, peakStops = 0, removing = 0, peakRemoves = 0, stopsDone = 0, removedEarly = 0;
  const stop = e.containers.stop, remove = e.containers.remove;
  e.containers.stop = async (id, ms) => {
    peakStops = Math.max(peakStops, ++stopping);
    await new Promise((r) => setTimeout(r, 10));
    stopping--;
    stopsDone++;
    if ((await e.containers.inspect(id))?.name === 'dn-s3-1') throw new Error('monitor did not answer');
    return stop(id, ms);
  };
  e.containers.remove = async (id, o) => {
    if (stopsDone < 10) removedEarly++;
    peakRemoves = Math.max(peakRemoves, ++removing);
    await new Promise((r) => setTimeout(r, 5));
    removing--;
    return remove(id, o);
  };
  const r = await apply(planDown(await observeFor(e, m)), e, { parallel: 2, removeParallel: 3 });
  t.is(peakStops, 10, 'stops are not bounded: one grace period for all');
  t.is(removedEarly, 0, 'removals start once every stop is over');
  t.true(peakRemoves <= 3 && peakRemoves >= 2, `peak removals ${peakRemoves}`);
  t.deepEqual(r.failed.map((f) => `${f.resource}: ${f.message}`), ['container:dn-s3-1: monitor did not answer']);
  t.deepEqual([...e.ctrs.values()].map((c) => c.name), ['dn-s3-1']);
});

test('down: once every stop succeeded, the engine is told what goes (all the containers, then the networks) before the first removal', async (t) => {
  const { apply } = await import('../../src/reconcile/apply.js');
  const { planDown } = await import('../../src/reconcile/diff.js');
  const { observeFor } = await import('../../src/reconcile/up.js');
  for (const failStop of [false, true]) {
    const e = engine();
    const m = model('pr', { a: { image: 'busybox' }, b: { image: 'busybox' }, c: { image: 'busybox' } });
    await up(e, m, { pollMs: 1 });
    const ids = [...e.ctrs.keys()].sort();
    const calls: string[][][] = [];
    (e as Engine).prepareRemoval = async (project, containers, networks) => {
      e.journal.push('prepare');
      calls.push([[project], [...containers].sort(), networks]);
      await new Promise((r) => setTimeout(r, 20));
      e.journal.push('under way');
      return { done: new Promise<void>((r) => setTimeout(() => { e.journal.push('deleted'); r(); }, 20)) };
    };
    const stop = e.containers.stop;
    e.containers.stop = async (id, ms) => {
      if (failStop && (await e.containers.inspect(id))?.name === 'pr-b-1') throw new Error('monitor did not answer');
      return stop(id, ms);
    };
    e.journal.length = 0;
    const r = await apply(planDown(await observeFor(e, m)), e);
    if (failStop) {
      t.deepEqual(calls, [], 'a container that may still run keeps its links: nothing is prepared');
      t.deepEqual(r.failed.map((f) => f.resource), ['container:pr-b-1']);
      continue;
    }
    t.deepEqual(r.failed, []);
    t.deepEqual(calls, [[['pr'], ids, ['pr_default']]], 'one call: the project, every container, the project network');
    t.is(e.journal.filter((l) => l.startsWith('remove')).length, 4);
    const firstRemoval = e.journal.findIndex((l) => l.startsWith('remove'));
    t.true(e.journal.indexOf('under way') < firstRemoval, `the removals begin once the deletion is under way: ${e.journal.join(', ')}`);
    t.true(e.journal.indexOf('deleted') > firstRemoval, 'and go on while it lasts');
    t.is(e.journal.at(-1), 'deleted', 'apply returns once it is over');
  }
});
