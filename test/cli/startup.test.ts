// Start-up shortcuts of main(): the command word (only that command is declared)
// and the commander-free `up -d`, which must read the command line as commander does.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Io } from '../../src/cli/context.js';
import { commandWord, main, quickDown, quickRun, quickUp } from '../../src/cli/main.js';

test('commandWord skips global options and their values', (t) => {
  t.is(commandWord(['up', '-d']), 'up');
  t.is(commandWord(['-f', 'a.yaml', '--profile', 'x', '-p', 'proj', 'up']), 'up');
  t.is(commandWord(['--file=a.yaml', '--debug', 'ps', '-a']), 'ps');
  t.is(commandWord(['--root', '/r', '--runtime', 'crun', '--env-file', 'e', '--project-directory', 'd', 'image', 'ls']), 'image');
  t.is(commandWord(['--help']), undefined);
  t.is(commandWord([]), undefined);
});

test('quickUp takes `[globals] up -d` only', (t) => {
  t.deepEqual(quickUp(['up', '-d']), { globals: {}, flags: { detach: true, format: 'text' } });
  t.deepEqual(quickUp(['-f', 'a.yaml', '--file=b.yaml', '-p', 'x', '--profile', 'p1', '--profile=p2', '--env-file', 'e', '--project-directory', 'd', '--root', '/r', '--runtime', 'crun', '--debug', 'up', '--detach'])?.globals, {
    file: ['a.yaml', 'b.yaml'], projectName: 'x', profile: ['p1', 'p2'], envFile: ['e'], projectDirectory: 'd', root: '/r', runtime: 'crun', debug: true,
  });
  for (const argv of [['up'], ['up', '-d', 'web'], ['up', '-d', '--wait'], ['up', '-dt', '1'], ['-fa.yaml', 'up', '-d'], ['-f', '-x', 'up', '-d'], ['-f'], ['--verbose', 'up', '-d'], ['ps', '-d'], ['up', '--', '-d']]) {
    t.is(quickUp(argv), undefined, argv.join(' '));
  }
});

test('quickUp reads the global options as commander does (the loader gets the same request)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-startup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const seen: unknown[] = [];
  const io: Io = {
    out: () => {}, err: () => {}, tty: false, env: { TSSTACK_ROOT: join(dir, 'root'), TSSTACK_RUN_ROOT: join(dir, 'run') }, cwd: dir,
    loadStack: async (o) => { seen.push(o); throw new Error('enough'); },
  };
  const globals = ['-f', 'a.yaml', '--file=b.yaml', '-p', 'x', '--profile', 'p1', '--env-file', 'e', '--project-directory', 'd'];
  t.truthy(quickUp([...globals, 'up', '-d']));
  t.not(await main([...globals, 'up', '-d'], io), 0);
  t.is(quickUp([...globals, 'up', '-d', '--no-color']), undefined);
  t.not(await main([...globals, 'up', '-d', '--no-color'], io), 0, 'commander parses this one');
  t.is(seen.length, 2);
  t.deepEqual(seen[0], seen[1]);
});

test('every global option commander declares is read by the quick path too (one table, no drift)', async (t) => {
  const out: string[] = [];
  const io: Io = { out: (s) => out.push(s), err: () => {}, tty: false, env: {}, cwd: tmpdir() };
  t.is(await main(['--help'], io), 0);
  // help lines: "  -f, --file <path>  stack file …", "  --debug  show …"
  const declared = out.join('\n').split('\n').map((l) => /^ {2}(-[\w-]+(?:, --[\w-]+)?)( <[^>]+>)?/.exec(l)).filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ flag: m[1].split(', ').pop()!, value: !!m[2] })).filter((o) => !['--help', '--version'].includes(o.flag));
  t.true(declared.length >= 9, declared.map((o) => o.flag).join(' '));
  for (const o of declared) t.truthy(quickUp([o.flag, ...(o.value ? ['x'] : []), 'up', '-d']), `${o.flag} up -d`);
});

test('quickDown takes `[globals] down [-v] [--remove-orphans] [-t N]` only; anything else is commander\'s', (t) => {
  t.deepEqual(quickDown(['down']), { globals: {}, flags: {} });
  t.deepEqual(quickDown(['-f', 'a.yaml', '-p', 'down', 'down', '-v', '--remove-orphans', '-t', '3']), { globals: { file: ['a.yaml'], projectName: 'down' }, flags: { volumes: true, removeOrphans: true, timeout: 3 } });
  t.deepEqual(quickDown(['down', '--volumes', '--timeout=0'])?.flags, { volumes: true, timeout: 0 });
  for (const argv of [['down', '-vt', '1'], ['down', '-t'], ['down', '-t', '-1'], ['down', '-t', 'x'], ['down', '--help'], ['down', 'web'], ['-v', 'down'], ['ps', 'down'], ['down', '--rmi', 'all']]) {
    t.is(quickDown(argv), undefined, argv.join(' '));
  }
});

test('quickRun takes `[globals] run [--rm] [-d] [-T] [--no-deps] [--service-ports] [--use-aliases] SERVICE [COMMAND…]`; every word after SERVICE is the command\'s', (t) => {
  t.deepEqual(quickRun(['-f', 'a.yaml', '-p', 'run', 'run', '--rm', 't']), { globals: { file: ['a.yaml'], projectName: 'run' }, service: 't', command: [], flags: { rm: true } });
  t.deepEqual(quickRun(['run', '-T', '--no-deps', '-d', '--service-ports', 'web', 'sh', '-c', 'echo --rm -e x']), {
    globals: {}, service: 'web', command: ['sh', '-c', 'echo --rm -e x'], flags: { TTY: false, deps: false, detach: true, servicePorts: true },
  });
  t.deepEqual(quickRun(['run', '--use-aliases', 'web'])?.flags, { useAliases: true });
  t.deepEqual(quickRun(['run', 'web', '--help'])?.command, ['--help']);
  for (const argv of [['run'], ['run', '--rm'], ['run', '-e', 'A=1', 'web'], ['run', '--name', 'x', 'web'], ['run', '-it', 'web'], ['run', '--help'], ['ps', 'run', 'web'], ['run', '--', 'web']]) {
    t.is(quickRun(argv), undefined, argv.join(' '));
  }
});
