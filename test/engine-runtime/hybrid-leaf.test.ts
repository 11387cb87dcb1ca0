// On a hybrid cgroup host, runc makes a container's cgroup v2 leaf best effort: when the shared parent
// (`tsstack/`) goes with another engine root's last container between its mkdirs, the init stays in
// runc's own v2 cgroup without a word, and every `runc exec` (post_start hooks, `tsstack exec`) then
// fails on the missing leaf. Containers.start puts the init into the leaf runc meant. The race itself
// is made here by hand: right after the real start, the init is moved up and its leaf removed.
import test from 'ava';
import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cliRuntime, placeInHybridLeaf, processMonitor } from '../../src/engine/runtime/kernel-drivers.js';
import { runtimes } from './helpers.js';
import { containerKit, leftovers, plainSpec } from './kit.js';
import { skipWhen } from '../helpers/skip.js';

const UNIFIED = '/sys/fs/cgroup/unified';
const hybrid = existsSync(join(UNIFIED, 'cgroup.procs')) && !existsSync('/sys/fs/cgroup/cgroup.controllers');
const runc = runtimes().includes('runc');
const why = !hybrid ? 'not a hybrid cgroup host (cgroup v2 beside v1 at /sys/fs/cgroup/unified)' : !runc ? 'runc is not installed' : undefined;

const { engine } = containerKit('tsstack-hybrid-leaf-');

const v2Of = (pid: number) => /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))![1]!;

/** What runc leaves when it loses the race: the init in the leaf's parent's parent, the leaf gone. */
function loseLeaf(pid: number): void {
  const leaf = join(UNIFIED, v2Of(pid));
  writeFileSync(join(dirname(dirname(leaf)), 'cgroup.procs'), String(pid));
  rmdirSync(leaf);
  try { rmdirSync(dirname(leaf)); } catch { /* another container of the host is still in it */ }
}

/** A monitor driver whose start loses the leaf as runc does; `lost` counts it. */
function losingMonitor() {
  const seen = { lost: 0 };
  const monitor = { ...processMonitor, start: async (o: Parameters<typeof processMonitor.start>[0]) => {
    const r = await processMonitor.start(o);
    const pid = processMonitor.state(o.statePath)?.pid;
    if (pid) { loseLeaf(pid); seen.lost++; }
    return r;
  } };
  return { monitor, seen };
}

skipWhen(why, why ?? '').serial('runc on a hybrid host: a container whose v2 leaf runc lost is put back into it, so exec works', async (t) => {
  const { monitor, seen } = losingMonitor();
  const { c } = engine(t, 'runc', { drivers: { monitor } });
  const a = await c.create(plainSpec('leaf', ['sleep', '100']));
  await c.start(a.id);
  t.is(seen.lost, 1);
  const pid = (await c.inspect(a.id))!.pid!;
  t.true(v2Of(pid).endsWith(`/tsstack/${a.id}`), `the init is in its leaf again (${v2Of(pid)})`);
  t.is((await c.execCapture(a.id, ['true'])).code, 0);
  await c.remove(a.id, { force: true });
  t.deepEqual(leftovers(c, a.id), []);
});

skipWhen(why, why ?? '').serial('runc on a hybrid host: without the repair the lost leaf makes exec fail (the race this guards against)', async (t) => {
  const { monitor } = losingMonitor();
  const { c } = engine(t, 'runc', { drivers: { monitor, runtime: { ...cliRuntime, placeInHybridLeaf: undefined } } });
  const a = await c.create(plainSpec('noleaf', ['sleep', '100']));
  await c.start(a.id);
  const r = await c.execCapture(a.id, ['true']).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  t.not(r.code, 0);
  t.regex(r.stderr, /cgroup/);
  await c.remove(a.id, { force: true });
});

skipWhen(!hybrid, 'not a hybrid cgroup host').serial('placeInHybridLeaf leaves a process that is in its leaf, or gone, alone', (t) => {
  t.notThrows(() => placeInHybridLeaf('tsstack/none', 0x3fffffff));
  const self = v2Of(process.pid);
  placeInHybridLeaf(self.split('/').filter(Boolean).pop() ?? '', process.pid);
  t.is(v2Of(process.pid), self);
});
