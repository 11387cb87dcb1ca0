// The dashboard's push path: inotify on the containers' records (changes.ts) wakes the hub,
// which lists the containers only then; the fingerprint is only a slow safety look; and the
// charts' sampler reads cgroups directly (stats.ts).
import test from 'ava';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerInfo } from '../../src/engine/api.js';
import { LABEL } from '../../src/engine/api.js';
import { watchContainers } from '../../src/ui/changes.js';
import { Hub, type HubEvent } from '../../src/ui/hub.js';
import { CgroupSampler } from '../../src/ui/stats.js';
import { FakeEngine } from '../fakes/engine.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(f: () => boolean, ms = 3000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) if (f()) return true;
  return f();
}

test('watchContainers: a container made or removed, or its records renamed in, calls back; its logs do not', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-ui-watch-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'containers', 'aaa'), { recursive: true });
  let n = 0;
  const w = watchContainers(root, () => { n++; });
  t.teardown(() => w.close());
  const replace = (id: string, name: string) => {
    writeFileSync(join(root, 'containers', id, `.${name}.tmp`), '{}');
    renameSync(join(root, 'containers', id, `.${name}.tmp`), join(root, 'containers', id, name));
  };
  replace('aaa', 'state.json');
  t.true(await until(() => n > 0), 'state.json renamed in');
  await sleep(50);
  n = 0;
  appendFileSync(join(root, 'containers', 'aaa', 'log.json'), '{"log":"hi"}\n');
  await sleep(100);
  t.is(n, 0, 'a log line is no change');
  mkdirSync(join(root, 'containers', 'bbb'));
  t.true(await until(() => n > 0), 'a new container');
  await sleep(50);
  n = 0;
  replace('bbb', 'container.json');
  t.true(await until(() => n > 0), 'the new container is watched too');
  w.close();
  await sleep(50);
  n = 0;
  replace('aaa', 'state.json');
  await sleep(100);
  t.is(n, 0, 'closed: no more calls');
});

function info(id: string, status: ContainerInfo['status']): ContainerInfo {
  return { id, name: `demo-web-1`, image: 'busybox', imageId: 'sha256:bb', status, restartCount: 0, labels: { [LABEL.project]: 'demo', [LABEL.service]: 'web', [LABEL.number]: '1' }, ports: [], addresses: {}, created: new Date(0).toISOString() } as unknown as ContainerInfo;
}

test('the hub lists the containers when the watch says so, not by polling; the watch ends with the last page', async (t) => {
  const engine = new FakeEngine();
  let state: ContainerInfo['status'] = 'running';
  let lists = 0, fingerprints = 0, watches = 0, closes = 0;
  const fake = {
    containers: { ...engine.containers, list: async () => { lists++; return [info('c1', state)]; } },
    stateFingerprint: async () => { fingerprints++; return { digest: 'same', pids: [], racy: false, racyForMs: 0 }; },
  } as unknown as FakeEngine;
  let changed: () => void = () => {};
  const hub = new Hub({
    engine: fake, project: 'demo', model: async () => undefined, plan: async () => ({ text: '', empty: true, warnings: [], problems: [], at: '' }),
    watch: (f) => { watches++; changed = f; return { close: () => { closes++; } }; },
    sampler: { sample: () => ({}), reset: () => {} },
    statsMs: 60_000,
  });
  const events: HubEvent[] = [];
  const off = await hub.subscribe((e) => events.push(e));
  const listed = lists, fp = fingerprints;
  await sleep(400);
  t.is(lists, listed, 'no list while nothing changes');
  t.is(fingerprints, fp, 'no fingerprint within the safety period (5 s)');
  state = 'exited';
  const t0 = Date.now();
  changed();
  changed();
  t.true(await until(() => events.some((e) => e.type === 'services')), 'the change reached the page');
  t.true(Date.now() - t0 < 300, `within ${Date.now() - t0} ms`);
  t.is(lists, listed + 1, 'a burst of changes is one list');
  t.is((events.find((e) => e.type === 'services')!.data as any)[0].containers[0].status, 'exited');
  t.is(watches, 1);
  off();
  t.is(closes, 1, 'the last page gone: the watch is closed');
});

test('CgroupSampler: the first reading is the CPU baseline, the next one a sample from the cgroup', async (t) => {
  const s = new CgroupSampler();
  const me = { ...info('self', 'running'), pid: process.pid };
  t.deepEqual(s.sample([me]), {}, 'baseline only');
  for (let i = 0; i < 2e6; i++) Math.sqrt(i); // some CPU
  await sleep(20);
  const out = s.sample([me]);
  t.true(!!out.self, JSON.stringify(out));
  t.true(out.self!.mem > 0 && out.self!.pids >= 1, JSON.stringify(out.self));
  t.true(out.self!.cpu >= 0);
  t.deepEqual(s.sample([{ ...me, status: 'exited' }]), {}, 'a stopped container has no sample');
  t.deepEqual(s.sample([me]), {}, 'and starts from a baseline again');
});
