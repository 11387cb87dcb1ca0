// The loader's model is parsed once: reconcile, the printer and the other targets read typed values,
// and `tsstack config` still prints what Compose prints.
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { renderStack } from '../../src/stack/render.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { project } from './helpers.js';

async function load(t: import('ava').ExecutionContext, yaml: string) {
  const dir = project(t, { 'compose.yaml': yaml });
  return loadStack({ projectDir: dir, env: {} });
}

test('published ports are numeric ranges in the model, strings in config, one port per replica', async (t) => {
  const m = await load(t, `
name: p
services:
  web:
    image: nginx
    scale: 2
    ports: ["127.0.0.1:9000-9001:80", "8080:8080/udp", { target: 443, published: "8443" }, "90"]
`);
  t.deepEqual(m.services.web!.ports.map((p) => p.published), [{ start: 9000, end: 9001 }, { start: 8080, end: 8080 }, { start: 8443, end: 8443 }, undefined]);
  const yaml = renderStack(m, 'yaml');
  t.regex(yaml, /published: 9000-9001\n/);
  t.regex(yaml, /published: "8443"\n/);
  const d = desiredState(m, {});
  t.deepEqual(d.services.web!.containers.map((c) => c.config.ports.map((p) => p.hostPort)), [[9000, 8080, 8443, 0], [9001, 8080, 8443, 0]]);
});

test('references, links, tmpfs, security options, volumes_from and cgroup rules are parsed; config prints them as written', async (t) => {
  const m = await load(t, `
name: p
services:
  db:
    image: busybox
    tmpfs: ["/run:size=64m,mode=1777", /tmp]
    security_opt: ["no-new-privileges", "seccomp=unconfined", "label=disable"]
    device_cgroup_rules: ["c 1:3 rwm", "a *:* r"]
    pid: host
    ipc: shareable
  app:
    image: busybox
    network_mode: service:db
    pid: service:db
    ipc: container:other
    links: [db, "db:database"]
    volumes_from: [db, "service:db:ro", "container:legacy:rw"]
`);
  const db = m.services.db!;
  const app = m.services.app!;
  t.deepEqual(db.tmpfs, [{ target: '/run', options: 'size=64m,mode=1777', size: 64 << 20, mode: 0o1777 }, { target: '/tmp' }]);
  t.deepEqual(db.security_opt!.map((o) => o.key), ['no-new-privileges', 'seccomp', 'ignored']);
  t.deepEqual(db.device_cgroup_rules, [{ type: 'c', major: 1, minor: 3, access: 'rwm' }, { type: 'a', access: 'r' }]);
  t.deepEqual([db.pid, db.ipc], ['host', 'shareable']);
  t.deepEqual(app.network_mode, { kind: 'service', name: 'db' });
  t.deepEqual([app.pid, app.ipc], [{ kind: 'service', name: 'db' }, { kind: 'container', name: 'other' }]);
  t.deepEqual(app.links, [{ service: 'db' }, { service: 'db', alias: 'database' }]);
  t.deepEqual(app.volumes_from!.map(({ kind, name, readOnly }) => ({ kind, name, readOnly })), [
    { kind: 'service', name: 'db', readOnly: undefined },
    { kind: 'service', name: 'db', readOnly: true },
    { kind: 'container', name: 'legacy', readOnly: false },
  ]);
  const yaml = renderStack(m, 'yaml');
  for (const written of ['- /run:size=64m,mode=1777', '- no-new-privileges\n', '- c 1:3 rwm', '- a *:* r', 'network_mode: service:db', 'pid: service:db', 'ipc: container:other', '- db:database', '- service:db:ro', '- container:legacy:rw']) {
    t.true(yaml.includes(written), written);
  }
  // reconcile reads the parsed values: the references resolve to the first container, the tmpfs target is mounted
  const d = desiredState(m, {});
  const c = d.services.app!.containers[0]!.config;
  t.is(c.network_mode, 'container:p-db-1');
  t.is(c.pid, 'container:p-db-1');
  t.is(c.ipc, 'container:other');
  t.deepEqual(Object.keys(d.services.app!.dependsOn), ['db']);
  t.deepEqual(d.services.db!.containers[0]!.config.volumes.filter((v) => v.type === 'tmpfs'), [{ type: 'tmpfs', target: '/run', size: 64 << 20, mode: 0o1777 }, { type: 'tmpfs', target: '/tmp' }]);
});

test('tmpfs options: size, mode, uid, gid, nr_inodes and mount flags are parsed in order; config prints them as written', async (t) => {
  const m = await load(t, `
services:
  a:
    image: busybox
    tmpfs: ["/scratch:rw, exec,size=1m,mode=0770,uid=33,gid=44,nr_inodes=1k,noatime"]
`);
  t.deepEqual(m.services.a!.tmpfs, [{ target: '/scratch', options: 'rw, exec,size=1m,mode=0770,uid=33,gid=44,nr_inodes=1k,noatime', size: 1 << 20, mode: 0o770, uid: 33, gid: 44, nrInodes: 1024, flags: ['rw', 'exec', 'noatime'] }]);
  t.true(renderStack(m, 'yaml').includes('- /scratch:rw, exec,size=1m,mode=0770,uid=33,gid=44,nr_inodes=1k,noatime'));
});

for (const [opt, why] of [
  ['remount', /"remount" is not supported/],
  ['bind', /"bind" is not supported/],
  ['size=50%', /absolute size/],
  ['size=0', /more than 0/],
  ['mode=999', /octal mode/],
  ['uid=-1', /numeric id/],
  ['uid=root', /numeric id/],
  ['mpol=interleave', /"mpol" is not supported/],
] as const) {
  test(`a tmpfs option tsstack would not apply is refused at its line: ${opt}`, async (t) => {
    const { refusedAt } = await import('./helpers.js');
    await refusedAt(t, `services:\n  a:\n    image: busybox\n    tmpfs:\n      - /x\n      - "/run:size=1m,${opt}"\n`, 6, why);
  });
}

test('a reference that names nothing is refused at its line', async (t) => {
  const { refusedAt } = await import('./helpers.js');
  await refusedAt(t, 'services:\n  a:\n    image: busybox\n    network_mode: "service:"\n', 4, /names no service/);
  // before the model was parsed, an empty container name reached the engine
  await refusedAt(t, 'services:\n  a:\n    image: busybox\n    network_mode: "container:"\n', 4, /names no container/);
});

test('a healthcheck is normalized in one place: the stack file\'s and the image\'s forms, with Docker\'s defaults', async (t) => {
  const { effectiveHealthcheck, healthTest, HEALTH_DEFAULTS } = await import('../../src/model/healthcheck.js');
  t.deepEqual(healthTest('curl -f http://x'), ['CMD-SHELL', 'curl -f http://x']);
  t.deepEqual(healthTest('NONE'), ['NONE']);
  t.deepEqual(healthTest(['CMD', 'true']), ['CMD', 'true']);
  t.deepEqual(healthTest(['true', '--x']), ['CMD-SHELL', 'true --x'], 'an image\'s list without a kind');
  const m = await load(t, 'services:\n  a:\n    image: busybox\n    healthcheck:\n      test: "true"\n      retries: 5\n');
  t.deepEqual(m.services.a!.healthcheck, { test: ['CMD-SHELL', 'true'], retries: 5 }, 'the model keeps what was written (config prints it)');
  t.deepEqual(effectiveHealthcheck(m.services.a!.healthcheck, { Test: ['CMD', 'x'], Interval: 2e9 }), {
    test: ['CMD-SHELL', 'true'], interval: 2000, timeout: HEALTH_DEFAULTS.timeout, retries: 5, startPeriod: 0, startInterval: 5000,
  });
  t.is(effectiveHealthcheck({ disable: true }, { Test: ['CMD', 'x'] }), undefined);
  t.is(effectiveHealthcheck(undefined, { Test: ['NONE'] }), undefined);
});

test('the short forms parse as Compose writes them and print back unchanged', async (t) => {
  const { parseRef, parseNetworkMode, parseLink, parseTmpfs } = await import('../../src/stack/short-forms.js');
  const { parsePublished } = await import('../../src/stack/ports.js');
  const { formatLink, formatMode, formatPortRange, formatTmpfs, formatCgroupRule } = await import('../../src/model/format.js');
  const { parseCgroupRule } = await import('../../src/stack/devices.js');
  t.deepEqual(parseRef('service:db'), { kind: 'service', name: 'db' });
  t.deepEqual(parseRef('container:a:b'), { kind: 'container', name: 'a:b' }, 'the name is the rest, as before');
  t.is(parseRef('host'), undefined);
  // a hostile value cannot smuggle a reference: only the prefix makes one
  t.is(parseNetworkMode('host:service:a'), 'host:service:a');
  t.is(parseRef(' service:a'), undefined);
  for (const m of ['none', 'host', 'bridge', 'service:db', 'container:x']) t.is(formatMode(parseNetworkMode(m)), m);
  for (const l of ['db', 'db:alias']) t.is(formatLink(parseLink(l)), l);
  t.deepEqual(parseLink('db:alias:extra'), { service: 'db', alias: 'alias' });
  for (const x of ['/run', '/run:size=64m,mode=1777', '/a:ro, exec']) t.is(formatTmpfs(parseTmpfs(x)), x);
  t.deepEqual(parsePublished('9000-9005'), { start: 9000, end: 9005 });
  t.deepEqual(parsePublished('08080'), { start: 8080, end: 8080 });
  t.is(parsePublished('80a'), undefined);
  t.is(parsePublished('-1'), undefined);
  for (const r of ['8080', '9000-9005']) t.is(formatPortRange(parsePublished(r)!), r);
  for (const r of ['c 1:3 rwm', 'a *:* r', 'b 7:* mw']) t.is(formatCgroupRule(parseCgroupRule(r)!), r);
});

