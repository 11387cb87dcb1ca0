// readOutput (runtime/logs.ts): a container's output as `run` shows it, read back from the monitor's
// JSON-lines log byte for byte — bytes from 0x80 up kept raw by the monitor, the others escaped as JSON
// (native/monitor/util.c) — in pieces, across rotations however many came between two looks. And the
// same rotations for readLogs' follow (`logs -f`, an attached `up`). Files written here as the monitor
// writes them; no container.
import test, { type ExecutionContext } from 'ava';
import { appendFileSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLogs, readOutput } from '../../src/engine/runtime/logs.js';
import type { OutputChunk } from '../../src/engine/api.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

/** One log entry as tsstack-monitor writes it: `bytes` escaped as its mon_json_escape does. */
function entry(bytes: Buffer, stream: 'stdout' | 'stderr' = 'stdout'): Buffer {
  const parts: Buffer[] = [];
  for (const c of bytes) {
    const named: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };
    if (named[c]) parts.push(Buffer.from(named[c]!));
    else if (c < 0x20 || c === 0x7f) parts.push(Buffer.from(`\\u00${c.toString(16).padStart(2, '0')}`));
    else parts.push(Buffer.from([c]));
  }
  return Buffer.concat([Buffer.from(`{"time":"2026-12-07T00:00:00.000000000Z","stream":"${stream}","log":"`), ...parts, Buffer.from('"}\n')]);
}

/** A log path in a directory of its own, removed after the test. */
function tempLog(t: ExecutionContext): string {
  const dir = makeTemp();
  t.teardown(() => rmTemp(dir));
  return join(dir, 'log.json');
}

/** The monitor's rotation with three files kept: log.json.1 → .2, log.json → .1, a new log.json. */
function rotateLog(p: string): void {
  if (existsSync(`${p}.1`)) renameSync(`${p}.1`, `${p}.2`);
  renameSync(p, `${p}.1`);
  writeFileSync(p, '');
}

function joined(chunks: OutputChunk[], stream: 'stdout' | 'stderr'): Buffer {
  return Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => c.bytes));
}

async function all(it: AsyncIterable<OutputChunk>): Promise<OutputChunk[]> {
  const out: OutputChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

test('every byte comes back as written: invalid UTF-8, NUL and other control bytes, CR, quotes, a last line without its newline; each on its stream', async (t) => {
  const p = tempLog(t);
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const out = [binary, Buffer.from('a\r\n'), Buffer.from('"quoted" \\ é\n'), Buffer.from('no newline')];
  const err = [Buffer.from('warning\n'), Buffer.from([0xff, 0xfe, 0x00])];
  writeFileSync(p, Buffer.concat([entry(out[0]!), entry(err[0]!, 'stderr'), entry(out[1]!), entry(out[2]!), entry(err[1]!, 'stderr'), entry(out[3]!)]));
  const got = await all(readOutput(p, {}, () => true));
  t.deepEqual(joined(got, 'stdout'), Buffer.concat(out));
  t.deepEqual(joined(got, 'stderr'), Buffer.concat(err));
  t.deepEqual(got.map((c) => c.stream), ['stdout', 'stderr', 'stdout', 'stdout', 'stderr', 'stdout'], 'in the order written');
});

test('a log much larger than one read comes whole and in order', async (t) => {
  const p = tempLog(t);
  // 800 entries of 4 KiB of NULs: ~20 MB of log (6 bytes per NUL), five times one read's 4 MiB
  const piece = (i: number) => Buffer.concat([Buffer.from(`${String(i).padStart(6, '0')}:`), Buffer.alloc(4089)]);
  const lines: Buffer[] = [];
  for (let i = 0; i < 800; i++) lines.push(entry(piece(i)));
  writeFileSync(p, Buffer.concat(lines));
  const got = await all(readOutput(p, {}, () => true));
  t.is(got.length, 800);
  t.true(got.every((c, i) => c.bytes.equals(piece(i))), 'each piece, in order');
});

test('followed: pieces written after the start, rotations between two looks (the file being read now .2), nothing lost; the end once the writer is done', async (t) => {
  const p = tempLog(t);
  writeFileSync(p, entry(Buffer.from('first\n')));
  let finished = false;
  const it = readOutput(p, { follow: true }, () => finished)[Symbol.asyncIterator]();
  const got: OutputChunk[] = [(await it.next()).value as OutputChunk];
  // while the reader is suspended: more in the file it reads, two rotations, more in each new file
  appendFileSync(p, entry(Buffer.from('second\n')));
  rotateLog(p);
  appendFileSync(p, entry(Buffer.from('third\n')));
  rotateLog(p);
  appendFileSync(p, entry(Buffer.from('fourth')));
  finished = true;
  for (let r = await it.next(); !r.done; r = await it.next()) got.push(r.value);
  t.is(joined(got, 'stdout').toString(), 'first\nsecond\nthird\nfourth');
});

test('readLogs follow: two rotations between two looks lose no line', async (t) => {
  const p = tempLog(t);
  writeFileSync(p, entry(Buffer.from('one\n')));
  let finished = false;
  const it = readLogs(p, { follow: true }, () => finished)[Symbol.asyncIterator]();
  t.is((await it.next()).value?.log, 'one');
  // the follow's first look sees the file it read; then the writer goes on and rotates twice
  const next = it.next();
  appendFileSync(p, entry(Buffer.from('two\n')));
  const rest: string[] = [(await next).value!.log];
  appendFileSync(p, entry(Buffer.from('three\n')));
  rotateLog(p);
  appendFileSync(p, entry(Buffer.from('four\n')));
  rotateLog(p);
  appendFileSync(p, entry(Buffer.from('five\n')));
  finished = true;
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.log);
  t.deepEqual(rest, ['two', 'three', 'four', 'five']);
});

test('readLogs over a log larger than one read: every line whole (a UTF-8 character split between two reads too), tail and since as before', async (t) => {
  const p = tempLog(t);
  // 3000 lines of ~3 KB of "é" (2 bytes each) and an odd prefix: the 4 MiB reads fall inside characters
  const text = (i: number) => `${i}:${'é'.repeat(1500 + (i % 7))}`;
  const time = (i: number) => `2026-12-07T00:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000000000Z`;
  writeFileSync(p, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ time: time(i), stream: 'stdout', log: `${text(i)}\n` }) + '\n').join(''));
  const lines: string[] = [];
  for await (const l of readLogs(p, {}, () => true)) lines.push(l.log);
  t.is(lines.length, 3000);
  t.true(lines.every((l, i) => l === text(i)), 'each line whole');
  const last: string[] = [];
  for await (const l of readLogs(p, { tail: 3 }, () => true)) last.push(l.log);
  t.deepEqual(last, [text(2997), text(2998), text(2999)]);
  const since: string[] = [];
  for await (const l of readLogs(p, { since: new Date(time(2990)) }, () => true)) since.push(l.log);
  t.is(since.length, 10);
  t.is(since[0], text(2990));
  const none: string[] = [];
  for await (const l of readLogs(p, { tail: 0 }, () => true)) none.push(l.log);
  t.deepEqual(none, []);
});
