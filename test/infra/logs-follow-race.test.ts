// readLogs with follow: a line written between the first read of the live log
// and the start of the follow must be seen exactly once. Regression for the
// intermittent compose-e2e TestEnvPriority failure (`run --rm` printed '' instead
// of 'shell'): the follow took its start offset from a stat made after the read,
// so a quick container's only line, written in between, was skipped.
import test from 'ava';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLogs } from '../../src/engine/runtime/logs.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const line = (time: string, log: string) => JSON.stringify({ log, stream: 'stdout', time }) + '\n';

test('a line appended while the reader holds the history is followed, once', async (t) => {
  const dir = makeTemp();
  t.teardown(() => rmTemp(dir));
  const p = join(dir, 'log.json');
  writeFileSync(p, line('2026-01-01T00:00:01Z', 'one\n'));
  let finished = false;
  const it = readLogs(p, { follow: true }, () => finished)[Symbol.asyncIterator]();
  const first = await it.next();
  t.is(first.value?.log, 'one');
  // The generator is suspended after its first read: the writer gets in before the follow starts.
  appendFileSync(p, line('2026-01-01T00:00:02Z', 'two\n'));
  finished = true;
  const rest: string[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.log);
  t.deepEqual(rest, ['two']);
});

test('a line half written at the first read is followed whole', async (t) => {
  const dir = makeTemp();
  t.teardown(() => rmTemp(dir));
  const p = join(dir, 'log.json');
  const second = line('2026-01-01T00:00:02Z', 'two\n');
  writeFileSync(p, line('2026-01-01T00:00:01Z', 'one\n') + second.slice(0, 10));
  let finished = false;
  const it = readLogs(p, { follow: true }, () => finished)[Symbol.asyncIterator]();
  t.is((await it.next()).value?.log, 'one');
  appendFileSync(p, second.slice(10));
  finished = true;
  const rest: string[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.log);
  t.deepEqual(rest, ['two']);
});

test('without follow, the whole file is read as before (a last line without its newline too)', async (t) => {
  const dir = makeTemp();
  t.teardown(() => rmTemp(dir));
  const p = join(dir, 'log.json');
  writeFileSync(p, line('2026-01-01T00:00:01Z', 'one\n') + line('2026-01-01T00:00:02Z', 'two\n').trimEnd());
  const got: string[] = [];
  for await (const l of readLogs(p, {}, () => true)) got.push(l.log);
  t.deepEqual(got, ['one', 'two']);
});
