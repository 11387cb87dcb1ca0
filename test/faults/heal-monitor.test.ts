// A container whose monitor died. Monitor and guard killed (an admin's `kill -9`): the container
// keeps running unsupervised; ps says so (running, unsupervised) rather than `dead (255)`, plan
// says why it restarts it, up -d stops the orphan through the runtime and starts it under a new
// monitor — never a second instance beside it — and its restart policy holds again. The monitor
// killed during a restart back-off: ps keeps the last exit (not a made-up 137) and the restart
// count, and up -d starts it again under a monitor that goes on restarting it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, healTest, pidsWith, until, type Heal } from './_heal.js';

const STACK = `
services:
  keep: { image: "busybox:latest", command: ["sleep", "4242"], restart: always }
  flap: { image: "busybox:latest", command: ["sh", "-c", "sleep 0.3; exit 3"], restart: always }
`;

interface State { status: string; pid: number; monitorPid: number; restartCount: number; exitCode: number }

async function stateOf(h: Heal, service: string): Promise<{ id: string; st: () => State }> {
  const c = (await h.ps()).find((x) => x.Service === service)!;
  const path = join(h.w.root, 'containers', c.ID, 'state.json');
  return { id: c.ID, st: () => JSON.parse(readFileSync(path, 'utf8')) as State };
}

/** Those of `pids` in the container's cgroup. */
function inCgroupOf(id: string, pids: number[]): number[] {
  return pids.filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(id);
    } catch {
      return false;
    }
  });
}

/** The monitor and its guard of a container, by pid (the guard forks from the monitor: same argv). */
function monitorAndGuard(id: string): number[] {
  return pidsWith('tsstack-monitor', `--id\0${id}`);
}

healTest('monitor and guard killed: ps is truthful, up -d adopts by restart, no duplicate, restart policy holds', 'healmon', STACK, async (h, t) => {
  const { T, ps } = h;
  t.is((await T('up', '-d', 'keep')).code, 0);
  t.is((await T('up', '-d', 'keep')).code, 0, 'converged (recorded for the fast path)');
  const { id, st } = await stateOf(h, 'keep');
  const orphan = st().pid;
  const procs = monitorAndGuard(id);
  t.is(procs.length, 2, 'a monitor and its guard');
  for (const p of procs.sort((a, b) => b - a)) process.kill(p, 'SIGKILL'); // the guard (forked later) first
  t.true(await until(() => procs.every((p) => !alive(p))));
  t.true(alive(orphan), 'the container outlives them, unsupervised');

  const seen = (await ps()).find((c) => c.Service === 'keep')!;
  t.is(seen.State, 'running', 'ps: it runs');
  t.regex(seen.Status, /unsupervised/, 'ps: and nothing supervises it');
  const plan = await T('plan', 'keep');
  t.regex(plan.out, /^restart service:keep:1 \(its monitor died; the container runs unsupervised\)$/m);

  const up = await T('up', '-d', '-t', '1', 'keep');
  t.is(up.code, 0, up.err);
  t.true(await until(() => !alive(orphan)), 'the orphan was stopped');
  t.is(inCgroupOf(id, pidsWith('sleep\x004242')).length, 1, 'one instance of the service, not two');
  const now = st();
  t.is(now.status, 'running');
  t.not(now.pid, orphan);
  t.is(monitorAndGuard(id).length, 2, 'supervised again');
  t.is((await T('plan', '--detailed-exitcode', 'keep')).code, 0, 'converged');

  // restart: always holds again: the container killed, its new monitor starts it again
  process.kill(now.pid, 'SIGKILL');
  t.true(await until(() => st().restartCount >= 1 && st().status === 'running' && alive(st().pid), 8000), 'restarted by its monitor');
});

healTest('monitor killed during a restart back-off: the last exit is kept, up -d starts it under a new monitor', 'healbo', STACK, async (h, t) => {
  const { T, ps } = h;
  t.is((await T('up', '-d', 'flap')).code, 0);
  const { id, st } = await stateOf(h, 'flap');
  t.true(await until(() => st().status === 'restarting' && st().restartCount >= 2, 10_000), 'flapping, in back-off');
  const count = st().restartCount;
  const mon = st().monitorPid;
  process.kill(mon, 'SIGKILL'); // the monitor only: its guard notices and writes the end
  t.true(await until(() => !alive(mon) && monitorAndGuard(id).length === 0 && st().status === 'dead'));
  const seen = (await ps()).find((c) => c.Service === 'flap')!;
  t.is(seen.State, 'dead');
  t.is(seen.ExitCode, 3, 'the last exit of the container, not a kill that never happened');
  t.true(st().restartCount >= count, 'the restart count survives the monitor');

  const plan = await T('plan', 'flap');
  t.regex(plan.out, /^start service:flap:1 /m);
  const up = await T('up', '-d', 'flap');
  t.is(up.code, 0, up.err);
  t.is(monitorAndGuard(id).length, 2, 'supervised again');
  t.true(await until(() => st().restartCount >= 1 && monitorAndGuard(id).length === 2, 8000), 'the restart policy holds: its new monitor restarts it');

  // both killed in a back-off this time: nothing ran, so the last exit is known (not Docker's 255 for "unknown")
  t.true(await until(() => st().status === 'restarting', 8000));
  for (const p of monitorAndGuard(id).sort((a, b) => b - a)) process.kill(p, 'SIGKILL');
  t.true(await until(() => monitorAndGuard(id).length === 0));
  const after = (await ps()).find((c) => c.Service === 'flap')!;
  t.deepEqual([after.State, after.ExitCode], ['dead', 3]);
  t.is((await T('up', '-d', 'flap')).code, 0);
  t.true(await until(() => monitorAndGuard(id).length === 2 && st().restartCount >= 1, 8000), 'and up -d supervises it again');
});
