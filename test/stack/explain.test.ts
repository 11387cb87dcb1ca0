// `config --explain`: where each interpolated value came from, and what it overrode.
import test from 'ava';
import { join } from 'node:path';
import { runConfig } from '../../src/cli/commands/config.js';
import { Provenance, renderExplain } from '../../src/stack/explain.js';
import { loadStack } from '../../src/stack/load.js';
import { project } from './helpers.js';

const FILES = {
  '.env': 'TAG=1.0\nCOMPOSE_PROFILES=dev\nPORT=8080\n',
  'other.env': 'X=from-file\nPORT=9090\n',
  'compose.yaml': 'services:\n  web:\n    image: ${REGISTRY:-docker.io}/app:${TAG}\n    ports: ["${PORT}:80"]\n    environment:\n      X: ${X:-none}\n',
};

test('each value names its variables: the shell over .env (both shown), .env with its line, a default in the file', async (t) => {
  const dir = project(t, FILES);
  const env = { TAG: '1.2' };
  const p = new Provenance(new Map(Object.entries(env)));
  await loadStack({ files: [join(dir, 'compose.yaml')], env, provenance: p });
  const text = renderExplain(p);
  t.true(text.includes(`settings:\n  COMPOSE_PROFILES = "dev" from ${dir}/.env:2`), text);
  t.true(text.includes(`${dir}/compose.yaml:3 services.web.image = "docker.io/app:1.2" (written "\${REGISTRY:-docker.io}/app:\${TAG}")`), text);
  t.true(text.includes(`TAG = "1.2" from the shell; overrides ${dir}/.env:1 ("1.0")`), text);
  t.true(text.includes(`PORT = "8080" from ${dir}/.env:3`), text);
  t.true(text.includes('REGISTRY: not set (the file\'s default, or "", applies)'), text);
});

test('a variable or a key path filters; a later --env-file overrides an earlier one', async (t) => {
  const dir = project(t, FILES);
  const p = new Provenance(new Map());
  await loadStack({ files: [join(dir, 'compose.yaml')], env: {}, envFiles: [join(dir, '.env'), join(dir, 'other.env')], provenance: p });
  const port = renderExplain(p, 'PORT');
  t.true(port.startsWith(`variable: PORT = "9090" from ${dir}/other.env:2; overrides ${dir}/.env:3 ("8080")`), port);
  t.false(port.includes('services.web.image'), 'only the values that use PORT');
  const env = renderExplain(p, 'services.web.environment');
  t.regex(env, /services\.web\.environment\.X = "from-file"/);
  t.false(env.includes('ports'));
  t.regex(renderExplain(p, 'NOPE'), /no interpolated value or variable matches "NOPE"/);
});

test('tsstack config --explain prints the report instead of the stack', async (t) => {
  const dir = project(t, FILES);
  let out = '';
  const code = await runConfig({ files: [join(dir, 'compose.yaml')], env: { TAG: '2' }, explain: 'TAG', warn: () => {} }, (s) => (out += s));
  t.is(code, 0);
  t.regex(out, /^variable: TAG = "2" from the shell; overrides .*\.env:1 \("1\.0"\)/);
});
