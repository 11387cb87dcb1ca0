// `up` under the lock carries out the plan made before it only when recovery found nothing to do and
// nothing that plan observed has changed since (src/reconcile/up.ts PlanMadeBefore); else it plans again.
import test from 'ava';
import { makePlan, up } from '../../src/reconcile/up.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';
import type { Plan } from '../../src/reconcile/plan.js';

function setup() {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  let observations = 0;
  const list = e.containers.list.bind(e.containers);
  e.containers.list = (...a: Parameters<typeof list>) => { observations++; return list(...a); };
  const m = model('r', { a: { image: 'busybox' }, b: { image: 'busybox' } });
  return { e, m, observations: () => observations };
}

/** `up` given `plan` as made before the lock, the fingerprint check answering `same`: how often it was asked, whether `up` observed. */
async function upWith(s: ReturnType<typeof setup>, plan: Plan, same: boolean) {
  const seen = s.observations();
  let asked = 0;
  const r = await up(s.e, s.m, { pollMs: 1 }, { plan, unchanged: async () => { asked++; return same; } });
  return { r, asked, observed: s.observations() > seen };
}

test('unchanged since and nothing recovered: the plan made before the lock is carried out, not made again', async (t) => {
  const s = setup();
  const { plan } = await makePlan(s.e, s.m, { pollMs: 1 });
  const { r, asked, observed } = await upWith(s, plan, true);
  t.is(asked, 1);
  t.is(r.plan, plan);
  t.false(observed, 'no observation under the lock');
  t.deepEqual(r.result.failed, []);
  t.deepEqual([...s.e.ctrs.values()].map((c) => `${c.name} ${c.status}`).sort(), ['r-a-1 running', 'r-b-1 running']);
});

test('changed since the plan was made: planned again from what is there now', async (t) => {
  const s = setup();
  const { plan } = await makePlan(s.e, s.m, { pollMs: 1 });
  // another command created one of the two meanwhile
  await up(s.e, model('r', { a: { image: 'busybox' } }), { pollMs: 1 });
  const { r, asked, observed } = await upWith(s, plan, false);
  t.is(asked, 1);
  t.not(r.plan, plan);
  t.true(observed);
  t.deepEqual(r.plan.actions.map((a) => `${a.type} ${a.resource}`), ['create service:b:1']);
  t.deepEqual(r.result.failed, []);
});

test('recovery that finished or undid something: planned again, the fingerprint not even asked', async (t) => {
  for (const report of [{ done: ['removed half-made container r-a-1'], problems: [] }, { done: [], problems: ['a mount stays'] }]) {
    const s = setup();
    s.e.recover = async () => report;
    const { plan } = await makePlan(s.e, s.m, { pollMs: 1 });
    const { r, asked, observed } = await upWith(s, plan, true);
    t.is(asked, 0);
    t.not(r.plan, plan);
    t.true(observed);
  }
});
