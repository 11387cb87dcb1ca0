// The loader end to end on small stacks written to a temp dir: features and user errors.
import { join } from 'node:path';
import test from 'ava';
import { loadStack, normalizeProjectName } from '../../src/stack/load.js';
import { isTsstackError, TsstackError } from '../../src/util/errors.js';
import { project } from './helpers.js';

async function specError(t: import('ava').ExecutionContext, p: Promise<unknown>): Promise<TsstackError> {
  const e = await t.throwsAsync(p);
  if (!isTsstackError(e)) throw new Error(`expected a TsstackError, got ${String(e)}`);
  t.is(e.code, 'SPEC');
  return e;
}

test('default file discovery, project name from the folder, implicit default network', async (t) => {
  const dir = project(t, { 'My App/stack.yaml': 'services:\n  web:\n    image: nginx\n' });
  const m = await loadStack({ projectDir: join(dir, 'My App'), env: {} });
  t.is(m.name, 'myapp');
  t.deepEqual(m.services.web!.networks, { default: {} });
  t.deepEqual(m.networks.default, { name: 'myapp_default', driver_opts: {}, labels: {} });
  t.deepEqual(m.sourceFiles, [join(dir, 'My App/stack.yaml')]);
});

test('discovery order prefers stack.yaml over compose.yaml and reads the override file', async (t) => {
  const dir = project(t, {
    'stack.yaml': 'services:\n  a:\n    image: a\n',
    'stack.override.yaml': 'services:\n  a:\n    environment: [X=1]\n',
    'compose.yaml': 'services:\n  b:\n    image: b\n',
  });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(Object.keys(m.services), ['a']);
  t.deepEqual(m.services.a!.environment, { X: '1' });
});

test('project name precedence: -p, TSSTACK_PROJECT_NAME, COMPOSE_PROJECT_NAME, name:, folder', async (t) => {
  const dir = project(t, { 'compose.yaml': 'name: From-File\nservices:\n  a:\n    image: a\n' });
  const files = [join(dir, 'compose.yaml')];
  t.is((await loadStack({ files, projectName: 'Cli', env: { TSSTACK_PROJECT_NAME: 'x' } })).name, 'cli');
  t.is((await loadStack({ files, env: { TSSTACK_PROJECT_NAME: 'ts', COMPOSE_PROJECT_NAME: 'c' } })).name, 'ts');
  t.is((await loadStack({ files, env: { COMPOSE_PROJECT_NAME: 'c' } })).name, 'c');
  t.is((await loadStack({ files, env: {} })).name, 'from-file');
  t.is(normalizeProjectName('.My_Proj-1!'), 'my_proj-1');
});

test('.env feeds interpolation; the process environment wins; $$ escapes', async (t) => {
  const dir = project(t, {
    '.env': 'TAG=1.0\nPORT=8080\n',
    'compose.yaml': 'services:\n  web:\n    image: "nginx:${TAG}"\n    ports: ["${PORT:-80}:80"]\n    command: echo $$HOME ${MISSING:-dflt}\n',
  });
  const m = await loadStack({ projectDir: dir, env: { PORT: '9090' } });
  const web = m.services.web!;
  t.is(web.image, 'nginx:1.0');
  t.deepEqual(web.ports, [{ target: 80, published: { start: 9090, end: 9090 }, protocol: 'tcp', mode: 'ingress' }]);
  t.deepEqual(web.command, ['echo', '$HOME', 'dflt']);
  t.true(m.sourceFiles.includes(join(dir, '.env')));
});

test('a missing required variable names file, line and key', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  web:\n    image: nginx\n    environment:\n      DB: ${DB_URL:?set DB_URL}\n' });
  const e = await specError(t, loadStack({ projectDir: dir, env: {} }));
  t.is(e.location?.line, 5);
  t.is(e.location?.path, 'services.web.environment.DB');
  t.regex(e.location?.file ?? '', /compose\.yaml$/);
  t.is(e.message, 'error while interpolating services.web.environment.DB: required variable DB_URL is missing a value: set DB_URL');
});

test('bad YAML shows a caret excerpt and the line', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  web:\n    image: [nginx\n    ports: 80\n' });
  const e = await specError(t, loadStack({ projectDir: dir, env: {} }));
  t.truthy(e.location?.line);
  t.regex(e.message, /\^/);
});

test('schema errors name the key and line', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  web:\n    image: nginx\n    imgae: typo\n' });
  const e = await specError(t, loadStack({ projectDir: dir, env: {} }));
  t.is(e.location?.line, 4);
  t.regex(e.message, /services\.web additional properties 'imgae' not allowed/);
});

test('depends_on: unknown service and cycles are errors with the line', async (t) => {
  const unknown = project(t, { 'compose.yaml': 'services:\n  web:\n    image: a\n    depends_on: [db]\n' });
  const e1 = await specError(t, loadStack({ projectDir: unknown, env: {} }));
  t.regex(e1.message, /depends on undefined service "db"/);
  t.is(e1.location?.line, 4);
  const cyc = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on:\n      c:\n        condition: service_healthy\n  c:\n    image: c\n    depends_on: [a]\n' });
  const e2 = await specError(t, loadStack({ projectDir: cyc, env: {} }));
  t.regex(e2.message, /dependency cycle detected: a -> b -> c -> a/);
  t.truthy(e2.location?.line);
});

test('the same host port published twice is an error naming both places', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    ports: ["8080:80"]\n  b:\n    image: b\n    ports:\n      - "127.0.0.1:9000:90"\n      - "8080:81"\n' });
  const e = await specError(t, loadStack({ projectDir: dir, env: {} }));
  t.regex(e.message, /host port 0\.0\.0\.0:8080\/tcp is published twice \(also at services\.a\.ports\[0\]\)/);
  t.is(e.location?.line, 9);
});

test('a bad duration names the key and line', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    healthcheck:\n      test: curl -f localhost\n      interval: 10 minutes\n' });
  const e = await specError(t, loadStack({ projectDir: dir, env: {} }));
  t.is(e.location?.line, 6);
  t.is(e.location?.path, 'services.a.healthcheck.interval');
  t.regex(e.message, /invalid duration "10 minutes"/);
  t.truthy(e.hint);
});

test('short syntax is normalized: ports (ranges, IPv6), volumes, env, depends_on, sizes, durations, command', async (t) => {
  const dir = project(t, {
    'compose.yaml': `
services:
  web:
    image: nginx
    command: sh -c 'echo "a b"'
    ports:
      - "80"
      - "127.0.0.1:8080:80/udp"
      - "9000-9002:9000-9002"
      - "[::1]:7000:70"
      - target: 443
        published: 8443
    volumes:
      - ./src:/app:ro
      - data:/data
      - /abs:/abs:rw,z
      - type: tmpfs
        target: /tmp
        tmpfs: { size: 64m }
    environment:
      - A=1
      - FROM_ENV
      - NOT_SET
    depends_on: [db]
    mem_limit: 512m
    cpus: "0.5"
    stop_grace_period: 1m30s
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
      start_period: 1s500ms
    ulimits:
      nofile: 1024
    extra_hosts: ["host.local:10.0.0.1"]
  db:
    image: postgres
    build: ./db
    networks:
      back:
        aliases: [database]
        ipv4_address: 172.20.0.5
volumes:
  data: {}
networks:
  back:
    ipam:
      config: [{ subnet: 172.20.0.0/16 }]
`,
  });
  const m = await loadStack({ projectDir: dir, projectName: 'p', env: { FROM_ENV: 'yes' } });
  const web = m.services.web!;
  t.deepEqual(web.command, ['sh', '-c', 'echo "a b"']);
  t.deepEqual(web.ports, [
    { target: 80, protocol: 'tcp', mode: 'ingress' },
    { target: 80, published: { start: 8080, end: 8080 }, host_ip: '127.0.0.1', protocol: 'udp', mode: 'ingress' },
    { target: 9000, published: { start: 9000, end: 9000 }, protocol: 'tcp', mode: 'ingress' },
    { target: 9001, published: { start: 9001, end: 9001 }, protocol: 'tcp', mode: 'ingress' },
    { target: 9002, published: { start: 9002, end: 9002 }, protocol: 'tcp', mode: 'ingress' },
    { target: 70, published: { start: 7000, end: 7000 }, host_ip: '::1', protocol: 'tcp', mode: 'ingress' },
    { target: 443, published: { start: 8443, end: 8443 }, protocol: 'tcp', mode: 'ingress' },
  ]);
  t.deepEqual(web.volumes, [
    { type: 'bind', source: join(dir, 'src'), target: '/app', read_only: true, bind: { create_host_path: true } },
    { type: 'volume', source: 'data', target: '/data' },
    { type: 'bind', source: '/abs', target: '/abs', bind: { create_host_path: true, selinux: 'z' } },
    { type: 'tmpfs', target: '/tmp', tmpfs: { size: 64 * 1024 * 1024 } },
  ]);
  t.deepEqual(web.environment, { A: '1', FROM_ENV: 'yes', NOT_SET: null });
  t.deepEqual(web.depends_on, { db: { condition: 'service_started', required: true } });
  t.is(web.mem_limit, 512 * 1024 * 1024);
  t.is(web.cpus, 0.5);
  t.is(web.deploy?.resources?.limits, undefined, 'short forms stay as written (config prints what was written)');
  t.is(web.stop_grace_period, 90_000);
  t.deepEqual(web.healthcheck, { test: ['CMD', 'true'], interval: 30_000, start_period: 1500 });
  t.deepEqual(web.ulimits, { nofile: { soft: 1024, hard: 1024 } });
  t.deepEqual(web.extra_hosts, ['host.local=10.0.0.1']);
  const db = m.services.db!;
  t.deepEqual(db.build, { context: join(dir, 'db'), dockerfile: 'Dockerfile', args: {}, labels: {}, tags: [] });
  t.deepEqual(db.networks, { back: { aliases: ['database'], ipv4_address: '172.20.0.5' } });
  t.is(m.networks.back!.name, 'p_back');
  t.is(m.volumes.data!.name, 'p_data');
  t.is(m.networks.default!.name, 'p_default', 'web has no networks: so it joins the default network');
  t.false('default' in db.networks);
});

test('profiles select services; allProfiles lists every profile', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n  dbg:\n    image: d\n    profiles: [debug]\n  tools:\n    image: t\n    profiles: [tools, debug]\n' });
  const off = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(Object.keys(off.services), ['a']);
  t.deepEqual(off.allProfiles, ['debug', 'tools']);
  const on = await loadStack({ projectDir: dir, env: {}, profiles: ['debug'] });
  t.deepEqual(Object.keys(on.services).sort(), ['a', 'dbg', 'tools']);
  const viaEnv = await loadStack({ projectDir: dir, env: { COMPOSE_PROFILES: 'tools' } });
  t.deepEqual(Object.keys(viaEnv.services).sort(), ['a', 'tools']);
});

test('multiple -f files merge by the Compose rules', async (t) => {
  const dir = project(t, {
    'a.yaml': 'services:\n  web:\n    image: nginx:1\n    environment: { A: "1", B: "1" }\n    ports: ["80:80"]\n    command: [a]\n',
    'b.yaml': 'services:\n  web:\n    image: nginx:2\n    environment: [B=2]\n    ports: ["443:443"]\n    command: [b]\n',
  });
  const m = await loadStack({ files: [join(dir, 'a.yaml'), join(dir, 'b.yaml')], env: {} });
  const web = m.services.web!;
  t.is(web.image, 'nginx:2');
  t.deepEqual(web.environment, { A: '1', B: '2' });
  t.deepEqual(web.ports.map((p) => p.published), [{ start: 80, end: 80 }, { start: 443, end: 443 }]);
  t.deepEqual(web.command, ['b']);
});

test('extends from the same file and another file; paths resolve against the file that wrote them', async (t) => {
  const dir = project(t, {
    'compose.yaml': 'services:\n  base:\n    image: base\n    environment: [A=1]\n  web:\n    extends: base\n    environment: [B=2]\n  other:\n    extends:\n      file: lib/common.yaml\n      service: tmpl\n',
    'lib/common.yaml': 'services:\n  tmpl:\n    image: tmpl\n    volumes: ["./conf:/conf"]\n',
  });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(m.services.web!.environment, { A: '1', B: '2' });
  t.is(m.services.web!.image, 'base');
  t.is(m.services.other!.image, 'tmpl');
  t.is((m.services.other!.volumes[0] as { source: string }).source, join(dir, 'lib/conf'));
  t.true(m.sourceFiles.includes(join(dir, 'lib/common.yaml')));
});

test('extends cycles are errors', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    extends: b\n  b:\n    image: b\n    extends: a\n' });
  const e = await specError(t, loadStack({ projectDir: dir, env: {} }));
  t.regex(e.message, /circular reference with extends/);
});

test('include brings in another project; local definitions override it', async (t) => {
  const dir = project(t, {
    'compose.yaml': 'include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n',
    'sub/compose.yaml': 'services:\n  db:\n    image: "postgres:${PGV}"\n    env_file: db.env\n',
    'sub/.env': 'PGV=16\n',
    'sub/db.env': 'POSTGRES_PASSWORD=secret\n',
  });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.is(m.services.db!.image, 'postgres:16');
  t.deepEqual(m.services.db!.environment, { POSTGRES_PASSWORD: 'secret' });
});

test('env_file: values, precedence of environment:, required: false', async (t) => {
  const dir = project(t, {
    'compose.yaml': 'services:\n  a:\n    image: a\n    env_file:\n      - one.env\n      - path: missing.env\n        required: false\n    environment:\n      B: from-service\n',
    'one.env': '# comment\nA=1\nB=from-file\nexport C="x y"\n',
  });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(m.services.a!.environment, { A: '1', B: 'from-service', C: 'x y' });
  const bad = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    env_file: nope.env\n' });
  const e = await specError(t, loadStack({ projectDir: bad, env: {} }));
  t.regex(e.message, /cannot read env file .*nope\.env/);
  t.is(e.location?.line, 4);
});

test('links stay in the model and are implicit depends_on (an explicit one wins); a link to an undefined service is an error', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    links: [b, "b:bee", "c:see"]\n    depends_on:\n      c:\n        condition: service_healthy\n  b:\n    image: b\n  c:\n    image: c\n' });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(m.services.a!.links, [{ service: 'b' }, { service: 'b', alias: 'bee' }, { service: 'c', alias: 'see' }]);
  t.deepEqual(m.services.a!.depends_on, {
    b: { condition: 'service_started', required: true, restart: true },
    c: { condition: 'service_healthy', required: true },
  });
  t.deepEqual(m.warnings, []);
  t.is(m.services.b!.links, undefined);
  const bad = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    links: ["nope:alias"]\n' });
  const e = await specError(t, loadStack({ projectDir: bad, env: {} }));
  t.regex(e.message, /depends on undefined service "nope"/);
});

test('environment-sourced secrets and configs are resolved at load time, an included file with its include env_file', async (t) => {
  const dir = project(t, {
    'compose.yaml': 'include:\n  - path: child/compose.yaml\n    env_file: [secret.env]\nservices:\n  a:\n    image: a\n    secrets: [top]\n    configs: [cfg]\nsecrets:\n  top:\n    environment: TOP\n  unset:\n    environment: NOT_SET\nconfigs:\n  cfg:\n    environment: FROM_DOTENV\n',
    '.env': 'FROM_DOTENV=dotenv-value\n',
    'secret.env': "MY_SECRET='this-is-secret'\n",
    'child/compose.yaml': 'services:\n  inc:\n    image: a\n    secrets: [mine]\nsecrets:\n  mine:\n    environment: MY_SECRET\n',
  });
  const m = await loadStack({ projectDir: dir, env: { TOP: 'from-process' } });
  t.is(m.secrets.top!.content, 'from-process');
  t.is(m.secrets.top!.environment, 'TOP');
  t.is(m.secrets.mine!.content, 'this-is-secret');
  t.is(m.configs.cfg!.content, 'dotenv-value');
  t.is(m.secrets.unset!.content, undefined);
  const { renderStack } = await import('../../src/stack/render.js');
  const printed = renderStack(m, 'yaml');
  t.false(printed.includes('this-is-secret') || printed.includes('from-process'), 'config names the variable, never prints its value');
  t.regex(printed, /environment: MY_SECRET/);
});

test('unsupported keys become warnings naming key and line; x- fields are kept', async (t) => {
  const dir = project(t, { 'compose.yaml': 'x-common: &c\n  restart: always\nservices:\n  a:\n    <<: *c\n    image: a\n    userns_mode: host\n    x-note: hi\n' });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(m.warnings.map((w) => [w.path, w.line]), [['services.a.userns_mode', 7]]);
  t.is(m.services.a!.restart, 'always');
  t.deepEqual(m.services.a!.extensions, { 'x-note': 'hi' });
  t.deepEqual(m.extensions, { 'x-common': { restart: 'always' } });
});

test('!reset and !override tags in override files', async (t) => {
  const dir = project(t, {
    'a.yaml': 'services:\n  a:\n    image: a\n    ports: ["80:80"]\n    environment: [A=1, B=2]\n',
    'b.yaml': 'services:\n  a:\n    ports: !reset []\n    environment: !override [C=3]\n',
  });
  const m = await loadStack({ files: [join(dir, 'a.yaml'), join(dir, 'b.yaml')], env: {} });
  t.deepEqual(m.services.a!.ports, []);
  t.deepEqual(m.services.a!.environment, { C: '3' });
});

test('undefined volume, network or secret references are errors', async (t) => {
  for (const [body, re] of [
    ['services:\n  a:\n    image: a\n    volumes: ["data:/d"]\n', /undefined volume data/],
    ['services:\n  a:\n    image: a\n    networks: [front]\n', /undefined network front/],
    ['services:\n  a:\n    image: a\n    secrets: [pw]\n', /undefined secret pw/],
    ['services:\n  a:\n    build: .\n    network_mode: host\n    networks: [x]\nnetworks:\n  x: {}\n', /mutually exclusive/],
    ['services:\n  a:\n    restart: sometimes\n    image: a\n', /invalid restart policy/],
  ] as const) {
    const dir = project(t, { 'compose.yaml': body });
    const e = await specError(t, loadStack({ projectDir: dir, env: {} }));
    t.regex(e.message, re);
  }
});

test('a missing stack file is a SPEC error with a hint', async (t) => {
  const dir = project(t, {});
  const e = await specError(t, loadStack({ projectDir: dir, env: {} }));
  t.regex(e.message, /no stack file found/);
  t.truthy(e.hint);
});

test('an unset variable without a default is a warning naming it, with the line', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: "a:${NOPE}"\n    environment:\n      X: ${NOPE2:-fine}\n' });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.is(m.services.a!.image, 'a:');
  t.deepEqual(m.warnings.map((w) => [w.path, w.line, w.message]), [['services.a.image', 3, 'the "NOPE" variable is not set; defaulting to a blank string']]);
});
