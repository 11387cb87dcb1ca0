// The generic step executor (reconcile/executor.ts) over fake actions: order,
// the parallelism bound, failures skipping dependents, stopping, cancellation.
import test from 'ava';
import { execute, rootCause, type ExecNode } from '../../src/reconcile/executor.js';

const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

/** Nodes that log `start x` / `end x`, take `ms`, and fail when named in `failing`. */
function fake(spec: Record<string, { deps?: string[]; after?: string[]; ms?: number; pool?: string }>, failing: string[] = []) {
  const log: string[] = [];
  const nodes: ExecNode[] = Object.entries(spec).map(([id, s]) => ({
    id, dependsOn: s.deps, after: s.after, pool: s.pool,
    run: async () => {
      log.push(`start ${id}`);
      await tick(s.ms ?? 1);
      log.push(`end ${id}`);
      if (failing.includes(id)) throw new Error(`${id} broke`);
      return id.toUpperCase();
    },
  }));
  return { log, nodes };
}

const states = (m: Map<string, { state: string }>) => Object.fromEntries([...m].map(([k, o]) => [k, o.state]));

test('a node starts only after what it depends on ended; every node has an outcome', async (t) => {
  const { log, nodes } = fake({ net: {}, db: { deps: ['net'] }, web: { deps: ['db', 'net'] }, other: {} });
  const out = await execute(nodes, { parallel: 4 });
  t.deepEqual(states(out), { net: 'done', db: 'done', web: 'done', other: 'done' });
  t.true(log.indexOf('end net') < log.indexOf('start db'));
  t.true(log.indexOf('end db') < log.indexOf('start web'));
  const web = out.get('web')!;
  t.is(web.state === 'done' && web.value, 'WEB');
});

test('ties start in the order the nodes were given', async (t) => {
  const { log, nodes } = fake({ c: {}, a: {}, b: {} });
  await execute(nodes, { parallel: 1 });
  t.deepEqual(log, ['start c', 'end c', 'start a', 'end a', 'start b', 'end b']);
});

test('never more than the bound at once, per pool; an unlimited pool is unbounded', async (t) => {
  let now = 0, peak = 0, freeNow = 0, freePeak = 0;
  const nodes: ExecNode[] = [];
  for (let i = 0; i < 10; i++) {
    nodes.push({ id: `b${i}`, run: async () => { peak = Math.max(peak, ++now); await tick(3); now--; } });
    nodes.push({ id: `f${i}`, pool: 'free', run: async () => { freePeak = Math.max(freePeak, ++freeNow); await tick(3); freeNow--; } });
  }
  nodes.push({ id: 'r', pool: 'two', run: async () => {} });
  const out = await execute(nodes, { parallel: 3, pools: { two: 2 } });
  t.is(peak, 3);
  t.is(freePeak, 10);
  t.true([...out.values()].every((o) => o.state === 'done'));
});

test('a failure skips its dependents, naming the cause; keepGoing runs the other branches', async (t) => {
  const { log, nodes } = fake({ db: {}, web: { deps: ['db'] }, edge: { deps: ['web'] }, cache: { ms: 5 }, late: { after: ['db'] } }, ['db']);
  const out = await execute(nodes, { keepGoing: true });
  t.deepEqual(states(out), { db: 'failed', web: 'skipped', edge: 'skipped', cache: 'done', late: 'done' });
  t.deepEqual(out.get('edge'), { id: 'edge', state: 'skipped', because: 'web' });
  t.is((rootCause(out, 'edge')?.error as Error).message, 'db broke');
  t.false(log.includes('start web'));
  t.true(log.indexOf('end db') < log.indexOf('start late'), '`after` waits for the end, whatever it was');
});

test('without keepGoing the first failure stops scheduling; running nodes finish', async (t) => {
  const { log, nodes } = fake({ a: { ms: 1 }, slow: { ms: 15 }, b: { after: ['a'] }, c: { deps: ['slow'] } }, ['a']);
  const out = await execute(nodes, { parallel: 4 });
  t.deepEqual(states(out), { a: 'failed', slow: 'done', b: 'cancelled', c: 'cancelled' });
  t.true(log.includes('end slow'), 'the running node was let finish');
});

test('an aborted signal cancels what has not started and is passed to what runs', async (t) => {
  const ac = new AbortController();
  let sawAbort = false;
  const nodes: ExecNode[] = [
    { id: 'long', run: async ({ signal }) => { ac.abort(); await tick(2); sawAbort = signal.aborted; } },
    { id: 'next', dependsOn: ['long'], run: async () => 'x' },
    { id: 'then', dependsOn: ['next'], run: async () => 'y' },
  ];
  const out = await execute(nodes, { signal: ac.signal });
  t.true(sawAbort);
  t.deepEqual(states(out), { long: 'done', next: 'cancelled', then: 'cancelled' });
  const pre = await execute([{ id: 'x', run: async () => t.fail('ran after abort') }], { signal: AbortSignal.abort() });
  t.deepEqual(states(pre), { x: 'cancelled' });
});

test('an empty graph, unknown ids and cycles', async (t) => {
  t.is((await execute([])).size, 0);
  await t.throwsAsync(execute([{ id: 'a', dependsOn: ['nope'], run: async () => {} }]), { message: /unknown node nope/ });
  await t.throwsAsync(execute([{ id: 'a', dependsOn: ['b'], run: async () => {} }, { id: 'b', after: ['a'], run: async () => {} }]), { message: /cycle/ });
});

test('a node can read the outcome of what it waited for', async (t) => {
  const nodes: ExecNode[] = [
    { id: 'a', run: async () => { throw new Error('no'); } },
    { id: 'b', after: ['a'], run: async ({ outcome }) => outcome('a')?.state },
  ];
  const out = await execute(nodes, { keepGoing: true });
  const b = out.get('b')!;
  t.is(b.state === 'done' && b.value, 'failed');
});
