// `up` under the lock carries out the plan made before it only when recovery found nothing to do and
// nothing that plan observed has changed since (src/reconcile/up.ts PlanMadeBefore); else it plans again.
import test from 'ava';
import { makePlan, up } from '../../src/reconcile/up.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';

function setup() {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  let observations = 0;
  const list = e.containers.list.bind(e.containers);
  e.containers.list = (...a: Parameters<typeof list>) => { observations++; return list(...a); };
  const m = model('r', { a: { image: 'busybox' }, b: { image: 'busybox' } });
  return { e, m, observations: () => observations };
}

test('unchanged since and nothing recovered: the plan made before the lock is carried out, not made again', async (t) => {
  const { e, m, observations } = setup();
  const { plan } = await makePlan(e, m, { pollMs: 1 });
  const seen = observations();
  const r = await up(e, m, { pollMs: 1 }, { plan, unchanged: async () => true });
  t.is(r.plan, plan);
  t.is(observations(), seen, 'no observation under the lock');
  t.deepEqual(r.result.failed, []);
  t.deepEqual([...e.ctrs.values()].map((c) => `${c.name} ${c.status}`).sort(), ['r-a-1 running', 'r-b-1 running']);
});

test('changed since the plan was made: planned again from what is there now', async (t) => {
  const { e, m, observations } = setup();
  const { plan } = await makePlan(e, m, { pollMs: 1 });
  // another command created one of the two meanwhile
  await up(e, model('r', { a: { image: 'busybox' } }), { pollMs: 1 });
  const seen = observations();
  let asked = 0;
  const r = await up(e, m, { pollMs: 1 }, { plan, unchanged: async () => { asked++; return false; } });
  t.is(asked, 1);
  t.not(r.plan, plan);
  t.true(observations() > seen);
  t.deepEqual(r.plan.actions.map((a) => `${a.type} ${a.resource}`), ['create service:b:1']);
  t.deepEqual(r.result.failed, []);
});

test('recovery that finished or undid something: planned again, the fingerprint not even asked', async (t) => {
  for (const report of [{ done: ['removed half-made container r-a-1'], problems: [] }, { done: [], problems: ['a mount stays'] }]) {
    const { e, m, observations } = setup();
    e.recover = async () => report;
    const { plan } = await makePlan(e, m, { pollMs: 1 });
    const seen = observations();
    let asked = 0;
    const r = await up(e, m, { pollMs: 1 }, { plan, unchanged: async () => { asked++; return true; } });
    t.is(asked, 0);
    t.not(r.plan, plan);
    t.true(observations() > seen);
  }
});
