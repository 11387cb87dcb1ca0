// Pure parts of issue 13's self-healing: faults observed become `repair` actions planned first;
// an unsupervised container is restarted, never created again; image VOLUMEs become anonymous
// volumes named per container (hostile paths from an image are normalized or ignored).
import test from 'ava';
import { withImageVolumes } from '../../src/reconcile/desired.js';
import { makePlan, up } from '../../src/reconcile/up.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';

const app = () => model('demo', { web: { image: 'busybox' } });

test('faults the engine reports are planned first, as repairs with their cause', async (t) => {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  await up(e, app(), { pollMs: 1 });
  t.true((await makePlan(e, app())).plan.empty);
  const repaired: string[] = [];
  (e as unknown as { health: unknown }).health = {
    check: async () => [{ resource: 'dns', cause: 'server not running' }, { resource: 'firewall', cause: 'nftables table inet tsstack missing' }],
    repair: async (f: { resource: string }[]) => { repaired.push(...f.map((x) => x.resource)); },
  };
  const { plan } = await makePlan(e, app());
  t.deepEqual(plan.lines(), ['repair dns (server not running)', 'repair firewall (nftables table inet tsstack missing)']);
  await up(e, app(), { pollMs: 1 });
  t.deepEqual(repaired, ['dns', 'firewall']);
});

test('an unsupervised container is restarted, not created beside it', async (t) => {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  await up(e, app(), { pollMs: 1 });
  const [c] = await e.containers.list();
  const list = e.containers.list.bind(e.containers);
  e.containers.list = async (f) => (await list(f)).map((x) => (x.id === c.id ? { ...x, unsupervised: true } : x));
  t.deepEqual((await makePlan(e, app())).plan.lines(), ['restart service:web:1 (its monitor died; the container runs unsupervised)']);
});

test('image VOLUMEs: one anonymous volume per path not covered by a mount; hostile paths normalized or ignored', (t) => {
  const out = withImageVolumes(
    [{ type: 'bind', source: '/srv', target: '/covered/' }],
    { '/data': {}, '/data/': {}, '/covered': {}, 'relative': {}, '/': {}, '/a/../../etc//x/': {} },
    'p_anon_web-1',
  );
  t.deepEqual(out.map((m) => m.target).sort(), ['/covered/', '/data', '/etc/x']);
  t.true(out.slice(1).every((m) => m.type === 'volume' && /^p_anon_web-1_[0-9a-f]{12}$/.test(m.source)));
  t.not((out[1] as { source: string }).source, (out[2] as { source: string }).source);
});
