import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedModel, storeModel, type CacheInput } from '../../src/cli/model-cache.js';
import { model } from '../reconcile/_model.js';

function setup(t: import('ava').ExecutionContext) {
  const base = mkdtempSync(join(tmpdir(), 'tsstack-cli-cache-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const proj = join(base, 'proj');
  mkdirSync(proj);
  const file = join(proj, 'stack.yaml');
  writeFileSync(file, 'services: {}\n');
  const m = model('proj', { a: { image: 'x' } }, { workingDir: proj, sourceFiles: [file] });
  const input = (over: Partial<CacheInput> = {}): CacheInput => ({ root: join(base, 'root'), options: {}, env: { HOME: '/root' }, cwd: proj, codeFiles: [], ...over });
  const probed = { explicitFiles: false, explicitEnvFiles: false, startDir: proj };
  return { base, proj, file, m, input, probed };
}

test('a stored model is returned while nothing it depends on changed', (t) => {
  const { m, input, probed } = setup(t);
  t.is(cachedModel(input()), undefined);
  storeModel(input(), m, probed);
  t.deepEqual(cachedModel(input()), m);
  t.deepEqual(cachedModel(input({ env: { HOME: '/root', _: '/usr/bin/x' } })), m, 'volatile variables do not matter');
});

test('a changed stack file, a new .env or override, other options or env: a miss', (t) => {
  const { proj, file, m, input, probed } = setup(t);
  storeModel(input(), m, probed);
  t.is(cachedModel(input({ env: { HOME: '/root', TAG: '2' } })), undefined);
  t.is(cachedModel(input({ options: { profile: ['debug'] } })), undefined);
  t.is(cachedModel(input({ cwd: '/elsewhere' })), undefined);
  writeFileSync(join(proj, '.env'), 'TAG=3\n');
  t.is(cachedModel(input()), undefined);
  rmSync(join(proj, '.env'));
  t.deepEqual(cachedModel(input()), m);
  writeFileSync(join(proj, 'stack.override.yaml'), 'services: {}\n');
  t.is(cachedModel(input()), undefined);
  rmSync(join(proj, 'stack.override.yaml'));
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  t.is(cachedModel(input()), undefined);
});
