// The dashboard's plan panel shows what `tsstack plan` prints: each action with what it waits for.
import test from 'ava';
import { planText } from '../../src/ui/dashboard.js';
import { makePlan } from '../../src/reconcile/up.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from '../reconcile/_model.js';

test('the plan panel names the edges, as tsstack plan does; an empty plan says the project is up to date', async (t) => {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  const m = model('pt', {
    db: { image: 'busybox', healthcheck: { test: ['CMD', 'true'], interval: 1000 } },
    web: { image: 'busybox', depends_on: { db: { condition: 'service_healthy', required: true } } },
  });
  const { plan } = await makePlan(e, m);
  const text = planText(plan, 'pt');
  t.is(text, plan.lines({ edges: true }).join('\n'));
  t.regex(text, /^create service:web:1 \(missing\) after: db healthy$/m);
  const { plan: none } = await makePlan(e, model('pt', {}));
  t.is(planText(none, 'pt'), 'no changes: pt is up to date');
});
