// The engine's state fingerprint (src/engine/fingerprint.ts, api.ts Engine.stateFingerprint):
// what the CLI's no-op `up` compares instead of reading the engine's files itself.
import test from 'ava';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RACY_MS, stateFingerprint } from '../../src/engine/fingerprint.js';
import { openEngine } from '../../src/engine/engine.js';

function put(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** As the engine writes state: a temp file renamed over the old one. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const settle = () => new Promise((r) => setTimeout(r, 120));

async function setup(t: import('ava').ExecutionContext) {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-fingerprint-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const c = join(root, 'containers', 'a'.repeat(64));
  put(join(c, 'container.json'), JSON.stringify({ id: 'a'.repeat(64), name: 'p-web-1', monitorPid: process.pid }));
  put(join(c, 'state.json'), JSON.stringify({ status: 'running', pid: 1, monitorPid: process.pid }));
  put(join(root, 'images', 'names.json'), '{}');
  put(join(root, 'volumes', 'p_data', 'meta.json'), '{"name":"p_data"}');
  await settle();
  return { root, runRoot: join(root, 'run'), c };
}

test('stable while nothing changes; the pids it names check it without reading files', async (t) => {
  const { root, runRoot } = await setup(t);
  const a = await stateFingerprint(root, runRoot);
  const b = await stateFingerprint(root, runRoot);
  t.is(a.digest, b.digest);
  t.false(a.racy);
  t.deepEqual(a.pids, [process.pid]);
  t.is((await stateFingerprint(root, runRoot, { pids: a.pids })).digest, a.digest);
});

test('changes when a state file is replaced, a container or volume comes or goes, or a named process dies', async (t) => {
  const { root, runRoot, c } = await setup(t);
  const seen = new Set([(await stateFingerprint(root, runRoot)).digest]);
  const step = async (what: string, f: () => void) => {
    f();
    const now = await stateFingerprint(root, runRoot);
    t.false(seen.has(now.digest), what);
    seen.add(now.digest);
  };
  await step('state.json replaced', () => replace(join(c, 'state.json'), JSON.stringify({ status: 'exited', pid: 0, monitorPid: process.pid })));
  await step('a container added', () => put(join(root, 'containers', 'b'.repeat(64), 'container.json'), '{}'));
  await step('a volume removed', () => rmSync(join(root, 'volumes', 'p_data'), { recursive: true }));
  await step('an image record added', () => put(join(root, 'images', 'sha256-1.json'), '{}'));
  // a monitor pid that is not alive: the check with the recorded pids differs from the live one
  const live = await stateFingerprint(root, runRoot, { pids: [process.pid] });
  const gone = await stateFingerprint(root, runRoot, { pids: [2 ** 22 + 1] });
  t.not(live.digest, gone.digest);
});

/** A fingerprint with the stamps taken as `stamps`, of a state changed just now; `again` takes another. */
async function justChanged(t: import('ava').ExecutionContext, stamps: 'fine' | 'coarse') {
  const { root, runRoot, c } = await setup(t);
  replace(join(c, 'state.json'), '{"status":"running"}');
  const again = (s: 'fine' | 'coarse' = stamps) => stateFingerprint(root, runRoot, { stamps: s });
  return { f: await again(), again };
}

test('with coarse stamps, a file changed just now is racy (not to be vouched for)', async (t) => {
  const { f, again } = await justChanged(t, 'coarse');
  t.true(f.racy);
  // how long is left of the window, counted from the change: waiting that long is enough. (Date.now() drops
  // the fraction of a millisecond that the file's stamp keeps, so the stamp can be up to 1 ms "after" now
  // and the rounded-up wait RACY_MS + 1: erring long, as it should)
  t.true(f.racyForMs > 0 && f.racyForMs <= RACY_MS + 1, `racyForMs ${f.racyForMs}`);
  await new Promise((r) => setTimeout(r, f.racyForMs + 1));
  const later = await again();
  t.false(later.racy);
  t.is(later.racyForMs, 0);
  t.is(later.digest, f.digest);
});

test('with stamps that show any later change (multigrain), nothing is racy', async (t) => {
  const { f, again } = await justChanged(t, 'fine');
  t.false(f.racy);
  t.is(f.racyForMs, 0);
  t.is(f.digest, (await again('coarse')).digest, 'the same digest either way');
});

test('Engine.stateFingerprint is the same fingerprint', async (t) => {
  const { root, runRoot } = await setup(t);
  const engine = await openEngine({ root, runRoot });
  t.teardown(() => engine.close());
  await settle();
  t.is((await engine.stateFingerprint()).digest, (await stateFingerprint(root, runRoot)).digest);
});
