// `tsstack config` (runConfig) and the renderer, including docker/compose's two model-only fixtures.
import { join } from 'node:path';
import test from 'ava';
import { needs } from '../helpers/skip.js';
import { parse } from 'yaml';
import { runConfig } from '../../src/cli/commands/config.js';
import { loadStack } from '../../src/stack/load.js';
import { renderStack } from '../../src/stack/render.js';
import { conformancePath, haveConformance } from './conformance.js';
import { project } from './helpers.js';

async function config(opts: Parameters<typeof runConfig>[0]): Promise<{ code: number; out: string; warnings: string[] }> {
  let out = '';
  const warnings: string[] = [];
  const code = await runConfig({ ...opts, warn: (s) => warnings.push(s) }, (s) => (out += s));
  return { code, out, warnings };
}

needs('conformance')('docker/compose TestConfig: the canonical model with an absolute build context', async (t) => {
  const dir = conformancePath('docker-compose/pkg/e2e/testdata/TestConfig');
  const { code, out } = await config({ files: [join(dir, 'compose.yaml')], projectName: 'testconfig', env: {} });
  t.is(code, 0);
  t.is(
    out,
    ['name: testconfig', 'services:', '  nginx:', '    build:', `      context: ${dir}/nginx-build`, '      dockerfile: Dockerfile', '    networks:', '      default: null', 'networks:', '  default:', '    name: testconfig_default', ''].join('\n'),
  );
});

needs('conformance')('docker/compose TestEnvInterpolation: the shell wins over .env, also inside .env values', async (t) => {
  const dir = conformancePath('docker-compose/pkg/e2e/testdata/TestEnvInterpolation');
  const { out } = await config({ files: [join(dir, 'compose.yaml')], env: { WHEREAMI: 'shell' } });
  const doc = parse(out) as { services: Record<string, { environment: Record<string, string> }> };
  t.is(doc.services['env-interpolation']!.environment.IMAGE, 'default_env:shell');
});

test('config renders durations as Go durations and sizes as bytes; json matches yaml', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    stop_grace_period: 90s\n    mem_limit: 1g\n    healthcheck:\n      test: \"true\"\n      interval: 1h\n      timeout: 500ms\n' });
  const y = await config({ projectDir: dir, env: {} });
  const j = await config({ projectDir: dir, env: {}, format: 'json' });
  const fromYaml = parse(y.out);
  t.deepEqual(fromYaml, JSON.parse(j.out));
  const a = fromYaml.services.a;
  t.is(a.stop_grace_period, '1m30s');
  t.is(a.healthcheck.interval, '1h0m0s');
  t.is(a.healthcheck.timeout, '500ms');
  t.is(a.mem_limit, 1073741824);
  t.is(a.deploy, undefined, 'mem_limit is printed as mem_limit only, as it was written');
});

test('config --services, --volumes, --profiles, -q; warnings go to the warn sink', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  b:\n    image: b\n    volumes: [v2:/x, v1:/y]\n    logging: { driver: syslog }\n  a:\n    image: a\n    profiles: [p2, p1]\nvolumes:\n  v2: {}\n  v1: {}\n' });
  t.is((await config({ projectDir: dir, env: {}, services: true })).out, 'b\n');
  t.is((await config({ projectDir: dir, env: {}, services: true, profiles: ['p1'] })).out, 'a\nb\n');
  t.is((await config({ projectDir: dir, env: {}, volumes: true })).out, 'v1\nv2\n');
  t.is((await config({ projectDir: dir, env: {}, profilesOnly: true })).out, 'p1\np2\n');
  const q = await config({ projectDir: dir, env: {}, quiet: true });
  t.is(q.out, '');
  t.is(q.code, 0);
  t.deepEqual(q.warnings, [`warning: ${join(dir, 'compose.yaml')}:5: services.b.logging.driver: logging driver syslog is not supported by tsstack; json-file is used`]);
});

test('config rejects an unknown format as a USAGE error', async (t) => {
  const e = await t.throwsAsync(config({ format: 'toml' }));
  t.is((e as { code?: string }).code, 'USAGE');
});

test('rendering is deterministic and re-loadable: config output loads to the same model', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  z:\n    image: "z:1"\n    environment: { B: "2", A: "yes" }\n    ports: ["127.0.0.1:80:80"]\n    command: ["echo", "a: b", "#c"]\n  y:\n    image: y\n    labels: ["k=v", "empty=", "8080=n", "true=b", "a b=c"]\n    sysctls: { net.core.somaxconn: 1024 }\n    environment: [UNSET_HERE, "EMPTY=", "MULTI=a\\nb"]\n' });
  const m1 = await loadStack({ projectDir: dir, projectName: 'p', env: {} });
  const out = renderStack(m1, 'yaml');
  t.is(renderStack(m1, 'yaml'), out);
  const dir2 = project(t, { 'compose.yaml': out });
  const m2 = await loadStack({ projectDir: dir2, env: {} });
  t.deepEqual(m2.services, m1.services);
  t.is(m2.name, 'p');
});
