// An idle follow of a container's log (what attached `up --watch` holds for every
// container) sleeps on inotify: it does not look at the log and the container's
// state ten times a second, and still delivers a line appended while it sleeps.
import test from 'ava';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLogs } from '../../src/engine/runtime/logs.js';

const line = (s: string) => JSON.stringify({ log: `${s}\n`, stream: 'stdout', time: new Date().toISOString() }) + '\n';

test('an idle log follow checks the container rarely, and a line written while it sleeps still arrives', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-follow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'log.json');
  writeFileSync(p, line('first'));
  let checks = 0;
  let finished = false;
  const it = readLogs(p, { follow: true }, () => { checks++; return finished; })[Symbol.asyncIterator]();
  t.is((await it.next()).value?.log, 'first');
  const pending = it.next();
  // past the first second, when a follow still polls in case more comes at once
  await new Promise((r) => setTimeout(r, 1300));
  const before = checks;
  await new Promise((r) => setTimeout(r, 1500));
  t.true(checks - before <= 1, `${checks - before} checks in 1.5 s of idle`);
  appendFileSync(p, line('second'));
  t.is((await pending).value?.log, 'second');
  finished = true;
  appendFileSync(p, line('third'));
  t.is((await it.next()).value?.log, 'third');
  t.true((await it.next()).done);
});
