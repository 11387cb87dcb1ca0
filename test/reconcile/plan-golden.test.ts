// Golden plans: for a set of stacks and states, the text `tsstack plan` prints
// (with its edges) and the steps apply() runs, compared with files under
// test/reconcile/golden/. Pure (the fake engine). After a deliberate change,
// `UPDATE_GOLDEN=1 npx ava dist/test/reconcile/plan-golden.test.js` rewrites the
// files; review the diff like code.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planDown } from '../../src/reconcile/diff.js';
import { formatSteps, type Plan } from '../../src/reconcile/plan.js';
import { makePlan, observeFor, up, type UpOptions } from '../../src/reconcile/up.js';
import type { DependsOnCondition, StackModel } from '../../src/model/types.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';

// dist/test/reconcile/ → the repository's test/reconcile/golden/
const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'reconcile', 'golden');

const dep = (condition: DependsOnCondition, extra: { required?: boolean; restart?: boolean } = {}) => ({ condition, required: extra.required ?? true, ...(extra.restart ? { restart: true } : {}) });
const hc = { test: ['CMD', 'true'], interval: 1000 };

function engine(): FakeEngine {
  const e = new FakeEngine();
  for (const r of ['busybox', 'postgres:16']) e.addImage(r, { Cmd: ['sh'] });
  e.registry.set('redis:7', { id: 'sha256:redis7', names: ['redis:7'], config: { Cmd: ['redis-server'] }, chainIds: [], size: 1 });
  return e;
}

/** A web app: a database it needs healthy, a migration it needs completed, a cache it can do without, workers after it. */
function shop(env: Record<string, string> = {}): StackModel {
  return model('shop', {
    db: { image: 'postgres:16', healthcheck: hc, environment: env, volumes: [{ type: 'volume', source: 'data', target: '/var/lib/postgresql/data' }] },
    migrate: { image: 'busybox', restart: 'no', depends_on: { db: dep('service_healthy') } },
    cache: { image: 'redis:7' },
    web: {
      image: 'busybox', ports: [{ target: 80, published: { start: 8080, end: 8080 }, protocol: 'tcp', mode: 'ingress' }],
      depends_on: { db: dep('service_healthy', { restart: true }), migrate: dep('service_completed_successfully'), cache: dep('service_started', { required: false }) },
    },
    worker: { image: 'busybox', deploy: { replicas: 2 }, depends_on: { web: dep('service_started') } },
  }, { volumes: { data: { name: 'shop_data', driver_opts: {}, labels: {} } } });
}

function render(plan: Plan): string {
  const text = plan.empty ? [`no changes: ${plan.project} is up to date`] : plan.lines({ edges: true });
  return ['# tsstack plan', ...text, '', '# steps', ...formatSteps(plan.steps), ''].join('\n');
}

async function planOf(e: FakeEngine, m: StackModel, opts: UpOptions = {}): Promise<Plan> {
  return (await makePlan(e, m, opts)).plan;
}

/** Brings `m` up on `e` with every container healthy and one-shots completed. */
async function converge(e: FakeEngine, m: StackModel, opts: UpOptions = {}): Promise<void> {
  e.behaviour = (s) => (s.name.endsWith('-migrate-1') ? { status: 'exited', exitCode: 0 } : s.healthcheck ? { health: 'healthy' } : {});
  const r = await up(e, m, { pollMs: 1, ...opts });
  if (r.result.failed.length) throw new Error(r.result.failed.map((f) => f.message).join('; '));
}

const cases: Record<string, () => Promise<Plan>> = {
  'from-nothing': async () => planOf(engine(), shop()),
  'from-nothing-no-start': async () => planOf(engine(), shop(), { noStart: true }),
  'selection-no-deps': async () => planOf(engine(), shop(), { services: ['web'], noDeps: true }),
  'selection-with-deps': async () => planOf(engine(), shop(), { services: ['worker'] }),
  'converged': async () => {
    const e = engine();
    await converge(e, shop());
    return planOf(e, shop());
  },
  'recreate-restarts-dependent': async () => {
    const e = engine();
    await converge(e, shop());
    return planOf(e, shop({ POSTGRES_DB: 'shop' }));
  },
  'force-recreate-one': async () => {
    const e = engine();
    await converge(e, shop());
    return planOf(e, shop(), { services: ['cache'], forceRecreate: true });
  },
  'scale-and-orphans': async () => {
    const e = engine();
    const m = shop();
    m.services.extra = { ...m.services.cache };
    await converge(e, m, { scale: { worker: 3 } });
    return planOf(e, shop(), { removeOrphans: true });
  },
  'exited-restarted': async () => {
    const e = engine();
    await converge(e, shop());
    for (const c of e.ctrs.values()) if (c.name === 'shop-worker-2') Object.assign(c, { status: 'exited', exitCode: 137 });
    return planOf(e, shop());
  },
  'down-volumes': async () => {
    const e = engine();
    await converge(e, shop());
    return planDown(await observeFor(e, shop()), { volumes: true });
  },
};

for (const [name, make] of Object.entries(cases)) {
  test(`golden plan: ${name}`, async (t) => {
    const got = render(await make());
    const file = join(GOLDEN, `${name}.txt`);
    if (process.env.UPDATE_GOLDEN) {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(file, got);
    }
    t.true(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 and review it`);
    t.is(got, readFileSync(file, 'utf8'));
  });
}
