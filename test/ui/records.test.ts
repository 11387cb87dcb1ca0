// tsstack ui reads the containers from the engine's records (no engine loaded): the view the engine
// would give, only ids that are containers, and a safety fingerprint that moves when a record does.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABEL } from '../../src/engine/api.js';
import { recordsSource } from '../../src/ui/records.js';

const ID = 'a'.repeat(64);

function world() {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-ui-records-'));
  const dir = join(root, 'containers', ID);
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(root, 'containers', '.tmp-x'));
  const rec = { id: ID, name: 'demo-web-1', created: '2026-01-01T00:00:00Z', rootfs: '', endpoints: [{ network: 'demo_default', address: '10.1.0.2' }], ports: [],
    spec: { image: 'busybox', imageId: 'sha256:bb', labels: { [LABEL.project]: 'demo', [LABEL.service]: 'web', [LABEL.number]: '1' }, logDriver: 'none' } };
  writeFileSync(join(dir, 'container.json'), JSON.stringify(rec));
  // a monitor pid that is no monitor (this test's own): the engine calls such a container exited as recorded
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ status: 'exited', exitCode: 3, restartCount: 2, monitorPid: process.pid, finishedAt: '2026-01-01T00:01:00Z' }));
  return { root, dir, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

test('the records read as the engine shows them; the fingerprint moves with a record', async (t) => {
  const w = world();
  t.teardown(w.dispose);
  const src = recordsSource(w.root, join(w.root, 'run'));
  const all = await src.containers.list({ [LABEL.project]: 'demo' });
  t.deepEqual(all.map((c) => [c.name, c.status, c.exitCode, c.restartCount, c.addresses]), [['demo-web-1', 'exited', 3, 2, { demo_default: '10.1.0.2' }]]);
  t.deepEqual(await src.containers.list({ [LABEL.project]: 'other' }), []);
  t.is((await src.containers.inspect('demo-web-1'))?.id, ID);
  t.is((await src.containers.inspect(ID))?.name, 'demo-web-1');
  t.is(await src.containers.inspect('nope'), undefined);
  t.throws(() => src.containers.logs(ID, {}), { message: /logging driver "none"/ });
  const a = await src.stateFingerprint();
  t.deepEqual(a.pids, [process.pid]);
  t.is((await src.stateFingerprint({ pids: a.pids })).digest, a.digest);
  writeFileSync(join(w.dir, 'state.json'), JSON.stringify({ status: 'exited', exitCode: 4, restartCount: 2, monitorPid: process.pid }));
  t.not((await src.stateFingerprint({ pids: a.pids })).digest, a.digest);
});
