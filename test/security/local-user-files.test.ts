// The engine's file writes against a hostile umask and planted names: atomic writes get exactly
// the mode asked for (a 077 umask must not make /etc/hosts unreadable to a container's user, a
// 000 umask must not make a record world-writable) and never write through a link; a secret's
// copy is owned and moded as asked, and a source that is not a regular file is refused.
import test from 'ava';
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../src/util/fs-atomic.js';
import { placeFileMounts } from '../../src/engine/runtime/file-mounts.js';
import { needs } from '../helpers/skip.js';

const isRoot = process.getuid?.() === 0;

test('atomic writes have the mode asked for whatever the umask, and replace a link at the target rather than write through it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-atomic-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const old = process.umask(0o077);
  try {
    writeFileAtomicSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    t.is(statSync(join(dir, 'hosts')).mode & 0o777, 0o644, 'readable in the container even under umask 077');
  } finally {
    process.umask(old);
  }
  process.umask(0);
  try {
    writeFileAtomicSync(join(dir, 'record'), '{}', 0o600);
    t.is(statSync(join(dir, 'record')).mode & 0o777, 0o600, 'not widened by umask 000');
  } finally {
    process.umask(old);
  }
  writeFileSync(join(dir, 'victim'), 'precious');
  symlinkSync(join(dir, 'victim'), join(dir, 'state.json'));
  writeFileAtomicSync(join(dir, 'state.json'), 'new');
  t.is(readFileSync(join(dir, 'victim'), 'utf8'), 'precious');
  t.true(lstatSync(join(dir, 'state.json')).isFile());
});

needs('root')('a secret copy: 0700 files/, the owner and mode asked for; a FIFO or device source is refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'src'), 'value');
  mkdirSync(join(dir, 'c'));
  const placed = placeFileMounts(join(dir, 'c'), [
    { type: 'volume', source: 'v', target: '/v' },
    { type: 'bind', source: join(dir, 'src'), target: '/run/secrets/a', readOnly: true, file: { mode: 0o400 } },
    { type: 'bind', source: join(dir, 'src'), target: '/b', readOnly: true, file: { uid: 7, gid: 8, mode: 0o440 } },
  ], { uid: 1000, gid: 1001 }, 'container x');
  t.deepEqual([...placed.keys()], [1, 2]);
  t.is(statSync(join(dir, 'c', 'files')).mode & 0o7777, 0o700);
  const a = statSync(placed.get(1)!), b = statSync(placed.get(2)!);
  t.deepEqual([a.uid, a.gid, a.mode & 0o7777], [1000, 1001, 0o400]);
  t.deepEqual([b.uid, b.gid, b.mode & 0o7777], [7, 8, 0o440]);
  t.is(readFileSync(placed.get(1)!, 'utf8'), 'value');
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const e = t.throws(() => placeFileMounts(join(dir, 'c'), [{ type: 'bind', source: join(dir, 'fifo'), target: '/f', file: { mode: 0o400 } }], { uid: 0, gid: 0 }, 'container x'));
  t.regex(e!.message, /container x: the file for \/f: .*fifo is not a regular file/);
  const missing = t.throws(() => placeFileMounts(join(dir, 'c'), [{ type: 'bind', source: join(dir, 'nope'), target: '/n', file: { mode: 0o400 } }], { uid: 0, gid: 0 }, 'container x'));
  t.regex(missing!.message, /cannot read .*nope: no such file/);
});
