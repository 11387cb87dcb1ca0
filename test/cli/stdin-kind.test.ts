// stdinKind: what run and exec take the standard input to be (src/util/stdin-kind.ts).
import test from 'ava';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { stdinKind } from '../../src/util/stdin-kind.js';

test('/dev/null and a closed descriptor carry nothing; a file, a pipe and other devices can', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-stdin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const devNull = openSync('/dev/null', 'r');
  t.is(stdinKind(devNull), 'none');
  closeSync(devNull);
  t.is(stdinKind(devNull), 'none', 'closed');
  writeFileSync(join(dir, 'dump.sql'), 'select 1;\n');
  const file = openSync(join(dir, 'dump.sql'), 'r');
  t.is(stdinKind(file), 'input');
  closeSync(file);
  const zero = openSync('/dev/zero', 'r');
  t.is(stdinKind(zero), 'input', 'a character device other than /dev/null');
  closeSync(zero);
});

test('as a command sees it on fd 0: /dev/null, a pipe, a file, closed', (t) => {
  const probe = `import(${JSON.stringify(new URL('../../src/util/stdin-kind.js', import.meta.url).href)}).then((m) => process.stdout.write(m.stdinKind()))`;
  const kind = (stdin: 'ignore' | 'pipe' | number) => spawnSync(process.execPath, ['-e', probe], { stdio: [stdin, 'pipe', 'inherit'], input: stdin === 'pipe' ? 'x' : undefined }).stdout.toString();
  t.is(kind('ignore'), 'none'); // Node gives /dev/null
  t.is(kind('pipe'), 'input');
  const f = openSync('/etc/hostname', 'r');
  t.is(kind(f), 'input');
  closeSync(f);
  const closed = spawnSync('/bin/sh', ['-c', `exec 0<&- "${process.execPath}" -e '${probe.replace(/'/g, "'\\''")}'`]).stdout.toString();
  t.is(closed, 'none');
});
