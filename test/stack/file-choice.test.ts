// Which stack files load: COMPOSE_FILE from the environment or, as Compose does, from
// the project's .env (read before the files are chosen), and `-f -` for standard input.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import test from 'ava';
import { loadStack, STDIN_FILE } from '../../src/stack/load.js';
import { project } from './helpers.js';

const ONE = 'services:\n  a:\n    image: a\n';
const TWO = 'services:\n  b:\n    image: b\n';
const BIN = resolve('bin/tsstack.js');

test('COMPOSE_FILE in the project .env chooses the files, with COMPOSE_PATH_SEPARATOR', async (t) => {
  const dir = project(t, { 'one.yml': ONE, 'two.yml': TWO, 'compose.yaml': 'services:\n  default:\n    image: d\n', '.env': 'COMPOSE_FILE=one.yml;two.yml\nCOMPOSE_PATH_SEPARATOR=;\n' });
  const m = await loadStack({ cwd: dir, env: {} });
  t.deepEqual(Object.keys(m.services).sort(), ['a', 'b']);
});

test('COMPOSE_FILE from the environment wins over .env; -f wins over both', async (t) => {
  const dir = project(t, { 'one.yml': ONE, 'two.yml': TWO, '.env': 'COMPOSE_FILE=one.yml\n' });
  t.deepEqual(Object.keys((await loadStack({ cwd: dir, env: { COMPOSE_FILE: 'two.yml' } })).services), ['b']);
  t.deepEqual(Object.keys((await loadStack({ cwd: dir, env: {}, files: ['two.yml'] })).services), ['b']);
  t.deepEqual(Object.keys((await loadStack({ cwd: dir, env: {} })).services), ['a']);
});

test('-f - reads the stack from standard input; the project directory is the working directory', async (t) => {
  const dir = project(t, { 'app.env': 'K=v\n' });
  const text = 'services:\n  a:\n    image: a\n    env_file: app.env\n';
  const m = await loadStack({ cwd: dir, env: {}, files: ['-'], readFile: async (p) => (p === STDIN_FILE ? text : readFile(p, 'utf8')) });
  t.is(m.workingDir, dir);
  t.is(m.services.a!.environment.K, 'v');
});

test('tsstack -f - config reads the piped file; tsstack config honours .env COMPOSE_FILE', (t) => {
  const dir = project(t, { 'one.yml': ONE, 'two.yml': TWO, '.env': 'COMPOSE_FILE=two.yml\n' });
  const piped = spawnSync(process.execPath, [BIN, '-f', '-', 'config', '--services'], { cwd: dir, input: ONE, encoding: 'utf8', env: { ...process.env, TSSTACK_NO_CACHE: '1' } });
  t.is(piped.status, 0, piped.stderr);
  t.is(piped.stdout, 'a\n');
  const chosen = spawnSync(process.execPath, [BIN, 'config', '--services'], { cwd: dir, encoding: 'utf8', env: { ...process.env, TSSTACK_NO_CACHE: '1' } });
  t.is(chosen.status, 0, chosen.stderr);
  t.is(chosen.stdout, 'b\n');
  t.false(join(dir, '-') === STDIN_FILE);
});
