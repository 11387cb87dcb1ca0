// tsstack-monitor against a real OCI runtime (runc; tsstack-runtime when it
// runs containers): detaching, logs and rotation, exit code/OOM, restart
// back-off, stop with grace, health checks, and no orphans when it is killed.
import test from 'ava';
import { skipWhen, noneHere } from '../helpers/skip.js';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nativeBinary, resolveRuntime } from '../../src/engine/native-paths.js';
import { processAlive, readMonitorState, requestStop, sendControl, startMonitor, waitForExit, type MonitorOptions } from '../../src/engine/runtime/monitor-client.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { OverlayRootfs, cgroupLeftovers, makeBundle, mountsUnder, processGone, readJsonLines, runtimes, until, type TestBundle } from './helpers.js';
import type { OciSpecInput } from '../../src/engine/runtime/oci-spec.js';

const base = makeTemp('tsstack-mon-');
const runRoot = join(base, 'run');
let fs: OverlayRootfs;

test.before(() => { fs = new OverlayRootfs(base); });
test.after.always(async () => {
  for (const m of mountsUnder(base).reverse()) await import('node:child_process').then((cp) => cp.execFileSync('umount', ['-l', m]));
  rmTemp(base);
});

/** Children of `pid` that are zombies. */
function zombieChildren(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' && Number(f[1]) === pid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

type T = { teardown: (f: () => Promise<void>) => void };

/** Starts a monitor; a teardown kills it (its guard then removes the container) should the test fail first. */
async function launch(t: T, runtime: string, args: string[], opts: Partial<MonitorOptions> = {}, spec: Partial<OciSpecInput> = {}): Promise<{ b: TestBundle; pid: number; o: MonitorOptions }> {
  const b = await makeBundle(base, fs, args, spec);
  t.teardown(async () => {
    const st = readMonitorState(b.state);
    if (st && processAlive(st.monitorPid)) {
      process.kill(st.monitorPid, 'SIGKILL');
      await until(() => readMonitorState(b.state)?.status === 'dead', 10000);
    }
    await fs.unmountRootfs(b.dir);
  });
  const o: MonitorOptions = {
    monitor: nativeBinary('monitor'), runtime: resolveRuntime(runtime), runtimeRoot: join(runRoot, runtime), id: b.id,
    bundle: b.bundle, statePath: b.state, logPath: b.log, socketPath: b.socket, ...opts,
  };
  const pid = await startMonitor(o);
  return { b, pid, o };
}

/** Waits for the monitor to finish and checks it left nothing: no process, no runtime state, no cgroup. */
async function finished(t: { true: (v: boolean, m?: string) => void; deepEqual: (a: unknown, b: unknown, m?: string) => void }, runtime: string, b: TestBundle, pid: number) {
  const st = await waitForExit(b.state, pid, { timeoutMs: 20000 });
  t.true(await until(() => processGone(pid)), 'monitor exited');
  t.deepEqual(readdirSync(join(runRoot, runtime)).filter((d) => d === b.id), [], 'runtime state deleted');
  t.deepEqual(cgroupLeftovers(b.id), [], 'no cgroup left');
  await fs.unmountRootfs(b.dir);
  t.deepEqual(mountsUnder(b.dir), [], 'nothing mounted');
  return st!;
}

noneHere(runtimes(), 'the monitor with a real runtime', 'runtime');
for (const rt of runtimes()) {
  test(`${rt}: the container outlives the client; stdout and stderr are logged as JSON lines; the exit code is recorded`, async (t) => {
    const { b, pid, o } = await launch(t, rt, ['sh', '-c', 'trap "exit 7" USR1; echo out-line; echo err-line >&2; printf "no newline"; while true; do sleep 0.05; done']);
    t.true(processAlive(pid), 'monitor runs after startMonitor returned');
    const running = readMonitorState(b.state)!;
    t.is(running.status, 'running');
    t.true(running.pid > 0 && processAlive(running.pid));
    t.true(await until(() => readJsonLines(b.log).length === 2), 'complete lines are logged at once');
    t.is(await sendControl(o.socketPath, 'kill USR1'), 'ok');
    const st = await finished(t, rt, b, pid);
    t.is(st.status, 'exited');
    t.is(st.exitCode, 7);
    t.false(st.oomKilled);
    const lines = readJsonLines(b.log);
    t.deepEqual(lines.map((l) => [l.stream, l.log]).sort(), [['stderr', 'err-line\n'], ['stdout', 'no newline'], ['stdout', 'out-line\n']]);
    for (const l of lines) t.regex(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    t.deepEqual(Object.keys(JSON.parse(readFileSync(b.log, 'utf8').split('\n')[0]!)), ['time', 'stream', 'log']);
  });

  test(`${rt}: the log is rotated by size and keeps N files`, async (t) => {
    const { b, pid } = await launch(t, rt, ['sh', '-c', 'i=0; while [ $i -lt 400 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done'], { logMaxSize: 4096, logMaxFiles: 3 });
    await finished(t, rt, b, pid);
    const files = readdirSync(b.dir).filter((f) => f.startsWith('log.json')).sort();
    t.deepEqual(files, ['log.json', 'log.json.1', 'log.json.2']);
    for (const f of files) t.true(readFileSync(join(b.dir, f)).length <= 4096);
    const last = readJsonLines(b.log).at(-1)!;
    t.is(last.log, `line 399 ${'x'.repeat(40)}\n`);
    const oldest = readJsonLines(join(b.dir, 'log.json.2'))[0]!;
    t.true(Number(/line (\d+)/.exec(oldest.log)![1]) > 0, 'the oldest lines were dropped');
  });

  test(`${rt}: an OOM kill is recorded (exit 137, oomKilled)`, async (t) => {
    const { b, pid } = await launch(t, rt, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], {}, { resources: { memory: 16 * 1024 * 1024, memorySwap: 16 * 1024 * 1024 } });
    const st = await finished(t, rt, b, pid);
    t.true(st.oomKilled, JSON.stringify(st));
    t.is(st.exitCode, 137);
    t.is(st.signal, 9);
  });

  test(`${rt}: on-failure:2 restarts twice with doubling back-off, then gives up`, async (t) => {
    const t0 = Date.now();
    const { b, pid } = await launch(t, rt, ['sh', '-c', 'echo run; exit 3'], { restart: 'on-failure:2' });
    const st = await finished(t, rt, b, pid);
    t.is(st.restartCount, 2);
    t.is(st.exitCode, 3);
    t.is(readJsonLines(b.log).filter((l) => l.log === 'run\n').length, 3);
    t.true(Date.now() - t0 >= 300, 'waited 100 ms + 200 ms between runs');
  });

  test(`${rt}: restart always keeps restarting until a stop request, which disables it`, async (t) => {
    const { b, pid, o } = await launch(t, rt, ['sh', '-c', 'echo run; exit 0'], { restart: 'always' });
    t.true(await until(() => (readMonitorState(b.state)?.restartCount ?? 0) >= 2, 10000));
    t.true(await until(() => zombieChildren(pid).length === 0, 5000), 'the monitor reaps every child (runtime helpers, the container)');
    await requestStop(o.socketPath, pid, 1000);
    const st = await finished(t, rt, b, pid);
    t.is(st.status, 'exited');
    const n = st.restartCount;
    t.true(n >= 2);
  });

  test(`${rt}: a restarted container is read without blocking the monitor: its output is logged live and a stop is served`, async (t) => {
    // the overlay's upper dir survives a restart: the first run leaves a marker and fails, the second runs on
    const { b, pid, o } = await launch(t, rt, ['sh', '-c', 'if [ -e /marker ]; then trap "exit 0" TERM; echo second run; while true; do sleep 0.05; done; fi; touch /marker; echo first run; exit 1'], { restart: 'on-failure', stopTimeoutMs: 5000 });
    t.true(await until(() => readJsonLines(b.log).some((l) => l.log === 'second run\n'), 10000), 'the second run\'s output is logged while it runs');
    t.is(readMonitorState(b.state)!.restartCount, 1);
    t.is(await sendControl(o.socketPath, 'stop'), 'ok');
    const st = await finished(t, rt, b, pid);
    t.is(st.exitCode, 0, 'the stop signal ended it (a SIGKILL after the 5 s grace would give 137)');
  });

  test(`${rt}: stop sends the stop signal, then SIGKILL after the grace period`, async (t) => {
    const { b, pid, o } = await launch(t, rt, ['sh', '-c', 'trap "echo ignoring" TERM; echo ready; while true; do sleep 0.05; done'], { stopTimeoutMs: 400, restart: 'always' });
    t.true(await until(() => readJsonLines(b.log).some((l) => l.log === 'ready\n')));
    const t0 = Date.now();
    t.is(await sendControl(o.socketPath, 'stop'), 'ok');
    const st = await finished(t, rt, b, pid);
    t.true(Date.now() - t0 >= 380, 'waited the grace period');
    t.is(st.exitCode, 137);
    t.is(st.signal, 9);
    t.is(st.restartCount, 0, 'a stopped container is not restarted');
    t.true(await until(() => readJsonLines(b.log).some((l) => l.log === 'ignoring\n')), 'the stop signal reached the container');
  });

  test(`${rt}: SIGTERM to the monitor stops the container with its stop signal`, async (t) => {
    const { b, pid } = await launch(t, rt, ['sh', '-c', 'trap "echo bye; exit 0" USR1; echo ready; while true; do sleep 0.05; done'], { stopSignal: 'SIGUSR1', stopTimeoutMs: 5000 });
    t.true(await until(() => readJsonLines(b.log).some((l) => l.log === 'ready\n')));
    process.kill(pid, 'SIGTERM');
    const st = await finished(t, rt, b, pid);
    t.is(st.exitCode, 0);
    t.true(readJsonLines(b.log).some((l) => l.log === 'bye\n'));
  });

  // systemd's stop signal: 37 as Docker, runc and glibc number it (the monitor is linked with musl, whose SIGRTMIN is 35)
  test(`${rt}: a stop signal SIGRTMIN+3 reaches the container as signal 37`, async (t) => {
    const { b, pid } = await launch(t, rt, ['sh', '-c', 'for n in 36 37 38; do trap "echo got $n; exit 0" $n; done; echo ready; while true; do sleep 0.05; done'], { stopSignal: 'SIGRTMIN+3', stopTimeoutMs: 5000 });
    t.true(await until(() => readJsonLines(b.log).some((l) => l.log === 'ready\n')));
    process.kill(pid, 'SIGTERM');
    const st = await finished(t, rt, b, pid);
    t.is(st.exitCode, 0);
    t.deepEqual(readJsonLines(b.log).filter((l) => l.log.startsWith('got')).map((l) => l.log), ['got 37\n']);
  });

  test(`${rt}: killing the monitor with SIGKILL leaves no container process; the guard is the small tsstack-guard, not a copy of the monitor`, async (t) => {
    const { b, pid } = await launch(t, rt, ['sleep', '1000'], { restart: 'always' });
    const cpid = readMonitorState(b.state)!.pid;
    t.true(processAlive(cpid));
    const guard = readMonitorState(b.state)!.guardPid!;
    t.is(readFileSync(`/proc/${guard}/comm`, 'utf8').trim(), 'tsstack-guard');
    t.is(readlinkSync(`/proc/${guard}/exe`), join(dirname(nativeBinary('monitor')), 'tsstack-guard'), 'it runs its own binary (a few pages per container)');
    t.regex(readFileSync(`/proc/${guard}/cmdline`, 'utf8'), new RegExp(`--guard-cleanup\0.*--id\0${b.id}\0`));
    process.kill(pid, 'SIGKILL');
    t.true(await until(() => processGone(cpid), 10000), 'container process gone');
    t.true(await until(() => readMonitorState(b.state)?.status === 'dead', 10000), 'the guard recorded it');
    t.is(readMonitorState(b.state)!.exitCode, 137);
    t.true(await until(() => !existsSync(join(runRoot, rt, b.id)), 5000), 'runtime state deleted');
    t.deepEqual(cgroupLeftovers(b.id), []);
    await fs.unmountRootfs(b.dir);
    t.deepEqual(mountsUnder(b.dir), []);
  });

  test(`${rt}: a health check turns healthy, records its output, and a failing one turns unhealthy`, async (t) => {
    const ok = await launch(t, rt, ['sleep', '1000'], { health: { argv: ['sh', '-c', 'echo fine'], intervalMs: 100, timeoutMs: 2000, retries: 2 } });
    const bad = await launch(t, rt, ['sleep', '1000'], { health: { argv: ['sh', '-c', 'echo broken; exit 1'], intervalMs: 100, timeoutMs: 2000, retries: 2 } });
    t.regex(readMonitorState(ok.b.state)!.health?.status ?? '', /^(starting|healthy)$/);
    t.true(await until(() => readMonitorState(ok.b.state)?.health?.status === 'healthy', 10000));
    t.true(await until(() => readMonitorState(bad.b.state)?.health?.status === 'unhealthy', 10000));
    const okState = readMonitorState(ok.b.state)!;
    t.is(okState.health!.log.at(-1)!.output, 'fine\n');
    t.is(okState.health!.log.at(-1)!.exitCode, 0);
    const badState = readMonitorState(bad.b.state)!;
    t.true(badState.health!.failingStreak >= 2);
    t.is(badState.health!.log.at(-1)!.exitCode, 1);
    for (const x of [ok, bad]) await requestStop(x.o.socketPath, x.pid, 0);
    await finished(t, rt, ok.b, ok.pid);
    await finished(t, rt, bad.b, bad.pid);
  });

  test(`${rt}: a probe that exceeds its timeout fails; start_period failures do not count`, async (t) => {
    const slow = await launch(t, rt, ['sleep', '1000'], { health: { argv: ['sleep', '5'], intervalMs: 100, timeoutMs: 200, retries: 1 } });
    const grace = await launch(t, rt, ['sleep', '1000'], { health: { argv: ['false'], intervalMs: 100, timeoutMs: 1000, retries: 1, startPeriodMs: 60000, startIntervalMs: 50 } });
    t.true(await until(() => readMonitorState(slow.b.state)?.health?.status === 'unhealthy', 10000));
    t.regex(readMonitorState(slow.b.state)!.health!.log.at(-1)!.output, /exceeded timeout/);
    t.true(await until(() => (readMonitorState(grace.b.state)?.health?.log.length ?? 0) >= 3, 10000));
    const g = readMonitorState(grace.b.state)!.health!;
    t.is(g.status, 'starting');
    t.is(g.failingStreak, 0);
    for (const x of [slow, grace]) await requestStop(x.o.socketPath, x.pid, 0);
    await finished(t, rt, slow.b, slow.pid);
    await finished(t, rt, grace.b, grace.pid);
  });

  test(`${rt}: tty containers get a pty whose output is logged`, async (t) => {
    const { b, pid } = await launch(t, rt, ['sh', '-c', 'tty; echo done'], { tty: true }, { tty: true });
    await finished(t, rt, b, pid);
    const text = readJsonLines(b.log).map((l) => l.log).join('');
    t.regex(text, /\/dev\/pts\/\d+\r?\n/);
    t.regex(text, /done/);
  });

  test(`${rt}: --stdin-open keeps stdin open (cat waits); without it stdin is at EOF`, async (t) => {
    const open = await launch(t, rt, ['sh', '-c', 'trap "exit 9" TERM; cat; echo cat-ended'], { stdinOpen: true, stopTimeoutMs: 5000 });
    const closed = await launch(t, rt, ['sh', '-c', 'cat; echo cat-ended'], {});
    const st = await finished(t, rt, closed.b, closed.pid);
    t.is(st.exitCode, 0);
    t.deepEqual(readJsonLines(closed.b.log).map((l) => l.log), ['cat-ended\n']);
    t.is(readMonitorState(open.b.state)!.status, 'running', 'cat is still waiting on its open stdin');
    t.deepEqual(readJsonLines(open.b.log), []);
    await requestStop(open.o.socketPath, open.pid, 0);
    await finished(t, rt, open.b, open.pid);
  });

  test(`${rt}: a container that cannot start is an error naming the cause, and nothing is left`, async (t) => {
    const err = await t.throwsAsync(launch(t, rt, ['/no/such/binary']));
    t.regex(err!.message, /could not be started: .*(no such file|not found|executable)/i);
  });
}

test('monitor: bad arguments are refused with a clear message', async (t) => {
  const err = await t.throwsAsync(startMonitor({ monitor: nativeBinary('monitor'), runtime: '/bin/true', runtimeRoot: base, id: 'x', bundle: base, statePath: join(base, 's'), logPath: join(base, 'l'), socketPath: join(base, 'c'), restart: 'sometimes' }));
  t.regex(err!.message, /unknown restart policy "sometimes"/);
});

for (const rt of runtimes()) {
  test(`${rt}: RuntimeDriver speaks the runc contract: state, list, kill, delete`, async (t) => {
    const { RuntimeDriver } = await import('../../src/engine/runtime/runtime-driver.js');
    const { b, pid } = await launch(t, rt, ['sleep', '1000'], { stopTimeoutMs: 0 });
    const d = new RuntimeDriver(resolveRuntime(rt), join(runRoot, rt));
    const st = await d.state(b.id);
    t.is(st?.status, 'running');
    t.is(st?.pid, readMonitorState(b.state)!.pid);
    t.true((await d.list()).some((c) => c.id === b.id));
    t.is(await d.state('no-such-container'), undefined);
    await d.kill(b.id, 'SIGKILL');
    const fin = await finished(t, rt, b, pid);
    t.is(fin.exitCode, 137);
    await d.delete(b.id); // already deleted by the monitor: idempotent
    await t.throwsAsync(d.kill('no-such-container', 'SIGTERM'), { message: /kill no-such-container SIGTERM failed/ });
  });
}

// crun 1.8 refuses a hybrid cgroup host (v1 controllers with a v2 hierarchy beside them).
const crunPath = (() => { try { return resolveRuntime('crun'); } catch { return undefined; } })();
const hybrid = !existsSync('/sys/fs/cgroup/cgroup.controllers') && existsSync('/sys/fs/cgroup/unified/cgroup.procs');
skipWhen(!crunPath || hybrid, !crunPath ? 'crun is not installed' : 'crun refuses a hybrid cgroup v1/v2 host')('crun: runs under the monitor', async (t) => {
  const { b, pid } = await launch(t, crunPath!, ['sh', '-c', 'echo via crun']);
  const st = await finished(t, 'crun', b, pid);
  t.is(st.exitCode, 0);
  t.deepEqual(readJsonLines(b.log).map((l) => l.log), ['via crun\n']);
});

// What an `up` of many containers relies on (issue 14): the monitor runs tsstack-runtime once per start
// (`run --detach`: create and start in one process), not `create` then `start`. Seen through a wrapper of
// the same name that logs its arguments; runc keeps the two steps (see the runc tests above).
const ownRuntime = runtimes().includes('tsstack-runtime');
skipWhen(!ownRuntime, 'tsstack-runtime is not built')('tsstack-runtime: a start is one exec of the runtime (run --detach), not create then start', async (t) => {
  const wrapDir = join(base, 'wrap');
  mkdirSync(wrapDir, { recursive: true });
  const wrapper = join(wrapDir, 'tsstack-runtime'), calls = join(wrapDir, 'calls');
  writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexec '${nativeBinary('runtime')}' "$@"\n`, { mode: 0o755 });
  const { b, pid } = await launch(t, wrapper, ['sh', '-c', 'echo one exec']);
  const st = await finished(t, wrapper, b, pid);
  t.is(st.exitCode, 0);
  t.deepEqual(readJsonLines(b.log).map((l) => l.log), ['one exec\n']);
  const verbs = readFileSync(calls, 'utf8').trim().split('\n').map((l) => l.split(' ')[2]); // after --root DIR
  t.is(verbs[0], 'run', verbs.join(', '));
  t.false(verbs.includes('create') || verbs.includes('start'), verbs.join(', '));
});
