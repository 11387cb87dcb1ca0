// Problems found before `up` changes anything carry the kind chosen where they
// were found; the error's code (and so the exit status) comes from the kinds.
import test from 'ava';
import { makePlan, problemsError, up } from '../../src/reconcile/up.js';
import { preflight } from '../../src/reconcile/preflight.js';
import { problem } from '../../src/reconcile/plan.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';

const web = (port: number) => model('pb', { web: { image: 'busybox', ports: [{ target: 80, published: { start: port, end: port }, protocol: 'tcp', mode: 'ingress' }] } });

function engine(): FakeEngine {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  return e;
}

test('a host check that cannot run is a problem saying so, not silently nothing', async (t) => {
  const e = engine();
  e.networks.checkPorts = async () => { throw new Error('networking is not available'); };
  const { plan } = await makePlan(e, web(8080));
  t.deepEqual(await preflight(plan, e), [problem('unchecked', 'could not check host ports: networking is not available')]);
  const err = await t.throwsAsync(up(e, web(8080), { pollMs: 1 }));
  t.is((err as { code?: string }).code, 'HOST');
  t.deepEqual(e.journal, [], 'nothing was touched');
});

test('what the engine reports against a port or a subnet is a conflict, whatever its words', async (t) => {
  const e = engine();
  e.networks.checkPorts = async () => ['host port 0.0.0.0:8080/tcp is already published by container other (0.0.0.0:8080/tcp → 10.89.0.2:80)'];
  const { plan } = await makePlan(e, web(8080));
  const problems = await preflight(plan, e);
  t.deepEqual(problems.map((p) => p.kind), ['conflict']);
  t.is(problemsError(problems).code, 'CONFLICT');
});

test('the code comes from the kinds: a conflict wins, then all missing, all unchecked, else the stack', (t) => {
  const code = (...kinds: Parameters<typeof problem>[0][]) => problemsError(kinds.map((k, i) => problem(k, `p${i}`))).code;
  t.is(code('missing', 'conflict', 'invalid'), 'CONFLICT');
  t.is(code('missing', 'missing'), 'NOT_FOUND');
  t.is(code('unchecked'), 'HOST');
  t.is(code('missing', 'invalid'), 'SPEC');
  t.is(code('missing', 'unchecked'), 'SPEC');
  const one = problemsError([problem('missing', 'no such service: x')]);
  t.is(one.message, 'no such service: x; nothing was changed');
});
