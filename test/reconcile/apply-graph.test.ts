// apply() over the plan's steps (steps.ts on executor.ts), with the fake engine:
// what blocks what, which failure is named, a recreate's steps, cancellation.
import test from 'ava';
import { apply, type ApplyEvent } from '../../src/reconcile/apply.js';
import { makePlan, up } from '../../src/reconcile/up.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';
import type { DependsOnCondition } from '../../src/model/types.js';

const dep = (condition: DependsOnCondition, required = true) => ({ condition, required });
const hc = { test: ['CMD', 'true'], interval: 10 };

function engine(): FakeEngine {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  return e;
}

test('a dependency that cannot be created blocks what requires it, named once; an optional one is a warning', async (t) => {
  const e = engine();
  const create = e.containers.create;
  e.containers.create = async (spec) => {
    if (spec.name === 'b-db-1') throw new Error('no space left');
    return create(spec);
  };
  const m = model('b', {
    db: { image: 'busybox' },
    web: { image: 'busybox', depends_on: { db: dep('service_started') } },
    edge: { image: 'busybox', depends_on: { web: dep('service_started') } },
    opt: { image: 'busybox', depends_on: { db: dep('service_started', false) } },
  });
  const r = await up(e, m, { pollMs: 1 });
  t.deepEqual(r.result.failed.map((f) => `${f.resource}: ${f.message}`), [
    'service:db:1: no space left',
    'service:web: not started: dependency db failed',
    'service:edge: not started: dependency web failed',
  ]);
  t.deepEqual(r.result.warnings, ['optional dependency "db" failed to start: not started: dependency db failed']);
  t.deepEqual([...e.ctrs.values()].map((c) => `${c.name} ${c.status}`), ['b-opt-1 running']);
});

test('waits go in name order: the first unmet condition is named, the next is not waited for', async (t) => {
  const e = engine();
  e.behaviour = (s) => (s.name === 'w-a-1' ? { health: 'unhealthy' } : s.name === 'w-b-1' ? { health: 'starting' } : {});
  const m = model('w', {
    a: { image: 'busybox', healthcheck: hc },
    b: { image: 'busybox', healthcheck: hc },
    web: { image: 'busybox', depends_on: { b: dep('service_healthy'), a: dep('service_healthy') } },
  });
  const events: ApplyEvent[] = [];
  const r = await up(e, m, { pollMs: 1, conditionTimeoutMs: 60_000, onEvent: (x) => events.push(x) });
  t.deepEqual(r.result.failed.map((f) => `${f.resource}: ${f.message}`), ['service:web: container w-a-1 is unhealthy']);
  t.deepEqual(events.filter((x) => x.resource === 'service:web:1' && x.action === 'start'), [
    { resource: 'service:web:1', action: 'start', state: 'skipped', message: 'dependency a: container w-a-1 is unhealthy' },
  ]);
  t.false(events.some((x) => x.action === 'wait b'), 'b was not waited for');
});

test('a recreate is stop, remove, create, start — in that order, one container at a time', async (t) => {
  const e = engine();
  const m = (v: string) => model('rc', { a: { image: 'busybox', environment: { V: v } } });
  await up(e, m('1'), { pollMs: 1 });
  e.journal.length = 0;
  const events: string[] = [];
  const r = await up(e, m('2'), { pollMs: 1, onEvent: (x) => events.push(`${x.action} ${x.state}`) });
  t.deepEqual(r.result.failed, []);
  t.deepEqual(e.journal, ['stop rc-a-1', 'remove rc-a-1', 'create rc-a-1', 'start rc-a-1']);
  t.deepEqual(events, ['recreate running', 'recreate done', 'start running', 'start done'], 'the events of one recreate, as before');
});

test('an aborted signal starts nothing more; what was not done is not reported as done', async (t) => {
  const e = engine();
  const m = model('ab', { a: { image: 'busybox' }, b: { image: 'busybox', depends_on: { a: dep('service_started') } } });
  const { plan } = await makePlan(e, m);
  const ac = new AbortController();
  const create = e.containers.create;
  e.containers.create = async (spec) => {
    ac.abort();
    return create(spec);
  };
  const done: string[] = [];
  await apply(plan, e, { pollMs: 1, signal: ac.signal, onEvent: (x) => { if (x.state === 'done') done.push(`${x.action} ${x.resource}`); } });
  t.deepEqual(e.journal, ['create-network ab_default', 'create ab-a-1']);
  t.deepEqual(done, ['create-network network:default', 'create service:a:1']);
});

test('a kept container is started only once the removals before it are over', async (t) => {
  const e = engine();
  const m = model('k', { web: { image: 'busybox', deploy: { replicas: 3 } } });
  await up(e, m, { pollMs: 1 });
  for (const c of e.ctrs.values()) if (c.name === 'k-web-1') Object.assign(c, { status: 'exited', exitCode: 1 });
  const stop = e.containers.stop;
  e.containers.stop = async (id, ms) => {
    await new Promise((r) => setTimeout(r, 20)); // a grace period, during which nothing else of the service may start
    return stop(id, ms);
  };
  e.journal.length = 0;
  const r = await up(e, m, { pollMs: 1, scale: { web: 1 } });
  t.deepEqual(r.result.failed, []);
  t.deepEqual(e.journal, ['stop k-web-3', 'stop k-web-2', 'remove k-web-3', 'remove k-web-2', 'start k-web-1']);
});
