// Containers.wait() and a log follow are woken by the monitor's writes (inotify on the container's
// directory), not by polls: what `run --rm` spends between the container's exit and its removal.
import test, { type ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogLine } from '../../src/engine/api.js';
import { processMonitor } from '../../src/engine/runtime/kernel-drivers.js';
import type { MonitorState } from '../../src/engine/runtime/monitor-client.js';
import { readLogs } from '../../src/engine/runtime/logs.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { runtimes } from './helpers.js';
import { containerKit, plainSpec } from './kit.js';
import { noneHere } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-waitwake-');

/**
 * The exit code a container running `script` is waited for with, and how often the wait read its monitor's
 * state file; `seen` watches each state read, `monitor` overrides more of the monitor driver.
 */
async function waitReads(t: ExecutionContext, rt: string, script: string, opts: { seen?: (st: MonitorState | undefined) => void; monitor?: Partial<typeof processMonitor> } = {}): Promise<{ code: number; reads: number }> {
  let reads = 0;
  const monitor = { ...processMonitor, ...opts.monitor, state: (p: string) => { reads++; const st = processMonitor.state(p); opts.seen?.(st); return st; } };
  const { c } = engine(t, rt, { drivers: { monitor } });
  const info = await c.create(plainSpec('w', ['sh', '-c', script]));
  await c.start(info.id);
  reads = 0;
  const code = await c.wait(info.id);
  await c.remove(info.id, { force: true });
  return { code, reads };
}

noneHere(runtimes(), 'wait() on a real container', 'runtime');
for (const rt of runtimes().slice(0, 1)) {
  test(`${rt}: wait() of a 2 s container reads the monitor's state a few times, not every 50 ms`, async (t) => {
    const { code, reads } = await waitReads(t, rt, 'sleep 2; exit 3');
    t.is(code, 3);
    // a 50 ms poll reads it ~40 times; woken by its writes (running, exited) with a 500 ms safety poll,
    // a few quick reads after the exit and one when the monitor's pid file goes: ~12 on a busy host
    t.true(reads < 20, `${reads} reads of the state file`);
  });

  test(`${rt}: wait() on a monitor slow to go after the exit is woken by its going, not 3 ms reads`, async (t) => {
    // on a busy host the monitor's last steps after it wrote "exited" (its guard's exit) can take long:
    // here it is seen alive for 300 ms more. The wait reads a few times, then waits for the pid file to go.
    let exitedAt = 0;
    const { code, reads } = await waitReads(t, rt, 'sleep 0.2; exit 4', {
      seen: (st) => { if (st?.status === 'exited' && !exitedAt) exitedAt = Date.now(); },
      monitor: { isMonitor: (pid: number) => (exitedAt > 0 && Date.now() - exitedAt < 300) || processMonitor.isMonitor(pid) },
    });
    t.is(code, 4);
    t.true(reads < 20, `${reads} reads of the state file`);
  });
}

test('a follow told the writer finishes (LogOptions.finish) reads the rest and ends without its batching pause', async (t) => {
  const dir = makeTemp('tsstack-finish-');
  t.teardown(() => rmTemp(dir));
  const path = join(dir, 'log.json');
  const line = (log: string) => JSON.stringify({ log, stream: 'stdout', time: new Date().toISOString() }) + '\n';
  writeFileSync(path, line('one'));
  let writerDone = false;
  const finish = new AbortController();
  const seen: string[] = [];
  let ended = false;
  const it = readLogs(path, { follow: true, finish: finish.signal }, () => writerDone);
  const all = (async () => {
    for await (const l of it as AsyncIterable<LogLine>) seen.push(l.log);
    ended = true;
  })();
  // the follow has read the first line and sits in its pause (100 ms while lines came within a second)
  for (let i = 0; i < 100 && !seen.length; i++) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 10));
  writeFileSync(path, line('one') + line('two'));
  writerDone = true;
  finish.abort();
  // a few turns of the event loop, far less than the pause: the follow has looked again, read, and ended
  for (let i = 0; i < 5 && !ended; i++) await new Promise((r) => setImmediate(r));
  t.true(ended, 'the follow ended on finish');
  await all;
  t.deepEqual(seen, ['one', 'two']);
});
