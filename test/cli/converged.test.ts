// The converged-`up` cache (src/cli/converged.ts): a hit only while nothing the
// plan depended on changed; state files and monitor liveness are the fingerprint.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convergedOutcome, recordConverged, settledSnapshot, snapshot, unchangedSince, type ConvergedInput } from '../../src/cli/converged.js';
import { model } from '../reconcile/_model.js';

/** Writes a state file as the engine and the monitor do: a temp file renamed over the old one. */
function put(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** Past the racy window (converged.ts's RACY_MS), so the files just written can be vouched for. */
const settle = () => new Promise((r) => setTimeout(r, 120));

async function setup(t: import('ava').ExecutionContext, monitorPid = process.pid) {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-converged-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const c = join(root, 'containers', 'a'.repeat(64));
  put(join(c, 'container.json'), JSON.stringify({ id: 'a'.repeat(64), name: 'p-web-1', monitorPid }));
  put(join(c, 'state.json'), JSON.stringify({ status: 'running', pid: 1, monitorPid }));
  put(join(root, 'images', 'names.json'), '{"busybox:latest":"sha256:1"}');
  put(join(root, 'networks', 'p_default.json'), '{"name":"p_default"}');
  put(join(root, 'volumes', 'p_data', 'meta.json'), '{"name":"p_data"}');
  const m = model('p', { web: { image: 'busybox:latest' } });
  const input = (over: Partial<ConvergedInput> = {}): ConvergedInput => ({ root, runRoot: join(root, 'run'), model: m, request: { services: [], detach: true }, env: { HOME: '/root' }, ...over });
  const outcome = { warnings: ['w1'], plan: { actions: [] } };
  await settle();
  return { root, c, input, outcome };
}

test('recorded after an empty plan, replayed while nothing changed', async (t) => {
  const { input, outcome, root } = await setup(t);
  t.is(await convergedOutcome(input()), undefined);
  await recordConverged(input(), await snapshot(root, join(root, 'run')), outcome);
  t.deepEqual(await convergedOutcome(input()), outcome);
  t.deepEqual(await convergedOutcome(input({ env: { HOME: '/root', _: '/bin/x', HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET: 'XXX' } })), outcome, 'volatile variables do not matter');
});

test('another model, request, environment or root: a miss', async (t) => {
  const { input, outcome, root } = await setup(t);
  await recordConverged(input(), await snapshot(root, join(root, 'run')), outcome);
  t.is(await convergedOutcome(input({ model: model('p', { web: { image: 'busybox:1' } }) })), undefined);
  t.is(await convergedOutcome(input({ request: { services: ['web'], detach: true } })), undefined);
  t.is(await convergedOutcome(input({ env: { HOME: '/root', SECRET: 'x' } })), undefined);
  t.is(await convergedOutcome(input({ runRoot: '/elsewhere' })), undefined);
});

test('any state file changed, added or removed: a miss', async (t) => {
  for (const change of [
    (root: string, c: string) => put(join(c, 'state.json'), JSON.stringify({ status: 'exited', monitorPid: process.pid })),
    (root: string) => put(join(root, 'containers', 'b'.repeat(64), 'container.json'), '{}'),
    (root: string, c: string) => rmSync(join(c, 'state.json')),
    (root: string) => put(join(root, 'images', 'names.json'), '{"busybox:latest":"sha256:2"}'),
    (root: string) => put(join(root, 'networks', 'q_default.json'), '{}'),
    (root: string) => rmSync(join(root, 'volumes', 'p_data'), { recursive: true }),
  ]) {
    const { input, outcome, root, c } = await setup(t);
    await recordConverged(input(), await snapshot(root, join(root, 'run')), outcome);
    t.truthy(await convergedOutcome(input()));
    change(root, c);
    t.is(await convergedOutcome(input()), undefined, change.toString());
  }
});

test('a monitor that died since: a miss', async (t) => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  await new Promise((r) => child.once('spawn', r));
  const { input, outcome, root } = await setup(t, child.pid!);
  await recordConverged(input(), await snapshot(root, join(root, 'run')), outcome);
  t.truthy(await convergedOutcome(input()));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  t.is(await convergedOutcome(input()), undefined);
});

test('not recorded when the state changed during the plan, or a file is too fresh to vouch for', async (t) => {
  const a = await setup(t);
  const before = await snapshot(a.root, join(a.root, 'run'));
  put(join(a.c, 'state.json'), JSON.stringify({ status: 'restarting', monitorPid: process.pid }));
  await recordConverged(a.input(), before, a.outcome);
  t.is(await convergedOutcome(a.input()), undefined);

  // with coarse stamps, a file changed a moment ago could change again unseen
  const b = await setup(t);
  put(join(b.c, 'state.json'), JSON.stringify({ status: 'running', monitorPid: process.pid }));
  const fresh = await snapshot(b.root, join(b.root, 'run'), { stamps: 'coarse' });
  t.true(fresh.racy);
  await recordConverged(b.input(), fresh, b.outcome);
  t.is(await convergedOutcome(b.input()), undefined);
});

test('unchangedSince: true while nothing changed; a change, or a snapshot too fresh to vouch for, is false', async (t) => {
  const a = await setup(t);
  const run = join(a.root, 'run');
  const before = await snapshot(a.root, run);
  t.true(await unchangedSince(a.root, run, before));
  put(join(a.root, 'networks', 'q_default.json'), '{}');
  t.false(await unchangedSince(a.root, run, before));

  const b = await setup(t);
  put(join(b.c, 'state.json'), JSON.stringify({ status: 'running', monitorPid: process.pid }));
  const fresh = await snapshot(b.root, join(b.root, 'run'), { stamps: 'coarse' });
  t.true(fresh.racy);
  t.false(await unchangedSince(b.root, join(b.root, 'run'), fresh));
});

test('a snapshot taken while racy is not vouched for even once the window has passed; settledSnapshot waits it out', async (t) => {
  // the plan observed after `before`: a change within the stamp's tick could have been missed then,
  // and the stamps would still be the same afterwards
  const a = await setup(t);
  put(join(a.c, 'state.json'), JSON.stringify({ status: 'running', monitorPid: process.pid }));
  const before = await snapshot(a.root, join(a.root, 'run'), { stamps: 'coarse' });
  t.true(before.racy);
  await new Promise((r) => setTimeout(r, before.racyForMs + 1));
  await recordConverged(a.input(), before, a.outcome);
  t.is(await convergedOutcome(a.input()), undefined);

  const b = await setup(t);
  put(join(b.c, 'state.json'), JSON.stringify({ status: 'running', monitorPid: process.pid }));
  const settled = await settledSnapshot(b.root, join(b.root, 'run'));
  t.false(settled.racy);
  await recordConverged(b.input(), settled, b.outcome);
  t.deepEqual(await convergedOutcome(b.input()), b.outcome);
});

test('where a look makes later changes show (multigrain stamps), a file changed a moment ago is vouched for', async (t) => {
  const a = await setup(t);
  put(join(a.c, 'state.json'), JSON.stringify({ status: 'running', monitorPid: process.pid }));
  const before = await snapshot(a.root, join(a.root, 'run'), { stamps: 'fine' });
  t.false(before.racy);
  await recordConverged(a.input(), before, a.outcome);
  t.deepEqual(await convergedOutcome(a.input()), a.outcome);
});
