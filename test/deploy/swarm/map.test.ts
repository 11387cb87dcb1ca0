// The Swarm mapper (pure): a stack model → Engine API specs, with a warning
// (file, line, key) for every key Swarm cannot carry.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack } from '../../../src/stack/load.js';
import { locator } from '../../../src/cli/commands/render.js';
import { mapStack, type MapOptions } from '../../../src/deploy/swarm/map.js';
import type { Desired } from '../../../src/deploy/swarm/types.js';

async function map(t: { teardown: (f: () => void) => void }, text: string, opts: Partial<MapOptions> = {}, files: Record<string, string> = {}): Promise<Desired & { file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-swarm-map-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'stack.yaml');
  writeFileSync(file, text);
  for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
  const model = await loadStack({ files: [file], env: {}, cwd: dir, projectName: 'demo' });
  const readFile = (p: string) => { try { return readFileSync(p); } catch { return undefined; } };
  return { ...mapStack(model, { ipvs: true, readFile, locate: locator(model), ...opts }), file };
}

const svc = (d: Desired, key: string): any => d.services.find((s) => s.key === key)!.spec;

test('a service: image, command, environment, replicas, resources, restart, healthcheck, networks with the service name as alias', async (t) => {
  const d = await map(t, `
services:
  web:
    image: reg.example/web:1
    entrypoint: ["/bin/app"]
    command: ["serve", "--port", "80"]
    environment: {B: "2", A: "1"}
    user: "1000"
    working_dir: /srv
    deploy:
      replicas: 3
      resources: {limits: {cpus: "0.5", memory: 64m, pids: 100}, reservations: {memory: 32m}}
      restart_policy: {condition: on-failure, max_attempts: 4, delay: 2s}
      labels: {team: a}
    healthcheck: {test: ["CMD", "true"], interval: 5s, retries: 2}
    networks: {back: {aliases: [www]}}
networks: {back: {}}
`);
  const s = svc(d, 'web');
  t.is(s.Name, 'demo_web');
  t.like(s.Labels, { team: 'a', 'tsstack.project': 'demo', 'tsstack.service': 'web' });
  t.is(s.Labels['tsstack.config-hash'], d.services[0]!.hash);
  const cs = s.TaskTemplate.ContainerSpec;
  t.deepEqual([cs.Image, cs.Command, cs.Args, cs.Env, cs.User, cs.Dir], ['reg.example/web:1', ['/bin/app'], ['serve', '--port', '80'], ['A=1', 'B=2'], '1000', '/srv']);
  t.deepEqual(cs.Healthcheck, { Test: ['CMD', 'true'], Interval: 5e9, Retries: 2 });
  t.deepEqual(s.Mode, { Replicated: { Replicas: 3 } });
  t.deepEqual(s.TaskTemplate.Resources, { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 << 20, Pids: 100 }, Reservations: { MemoryBytes: 32 << 20 } });
  t.deepEqual(s.TaskTemplate.RestartPolicy, { Condition: 'on-failure', MaxAttempts: 4, Delay: 2e9 });
  t.deepEqual(s.TaskTemplate.Networks, [{ Target: 'demo_back', Aliases: ['web', 'www'] }]);
  t.deepEqual(s.UpdateConfig, { Parallelism: 1, FailureAction: 'rollback', Order: 'stop-first' }, 'a failed update goes back by default');
  t.deepEqual(s.EndpointSpec, { Mode: 'vip' });
  const net = d.networks.find((n) => n.key === 'back')!;
  t.like(net.create, { Name: 'demo_back', Driver: 'overlay', Attachable: true });
  t.is((net.create!.Labels as any)['tsstack.project'], 'demo');
});

test('deploy.*: global mode, placement, update and rollback config, endpoint mode', async (t) => {
  const d = await map(t, `
services:
  agent:
    image: a
    deploy:
      mode: global
      endpoint_mode: dnsrr
      placement:
        constraints: [node.role == worker]
        preferences: [{spread: node.labels.zone}]
        max_replicas_per_node: 1
      update_config: {parallelism: 2, delay: 10s, failure_action: pause, monitor: 30s, max_failure_ratio: 0.5, order: start-first}
      rollback_config: {parallelism: 0}
`);
  const s = svc(d, 'agent');
  t.deepEqual(s.Mode, { Global: {} });
  t.deepEqual(s.TaskTemplate.Placement, { Constraints: ['node.role == worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 1 });
  t.deepEqual(s.UpdateConfig, { Parallelism: 2, Delay: 10e9, FailureAction: 'pause', Monitor: 30e9, MaxFailureRatio: 0.5, Order: 'start-first' });
  t.deepEqual(s.RollbackConfig, { Parallelism: 0, FailureAction: 'pause', Order: 'stop-first' });
  t.is(s.EndpointSpec.Mode, 'dnsrr');
});

test('a bad deploy value is the loader\'s error with its line', async (t) => {
  const e = await t.throwsAsync(map(t, 'services:\n  a:\n    image: a\n    deploy:\n      update_config:\n        order: sideways\n'));
  t.regex(e!.message, /must be stop-first or start-first/);
});

test('ports: ingress by default; without IPVS every service is dnsrr and every port host-mode, a vip asked for is warned about', async (t) => {
  const text = `
services:
  web:
    image: a
    ports: ["8080:80", {target: 53, published: "5353", protocol: udp, mode: host}]
  api:
    image: a
    deploy: {endpoint_mode: vip}
`;
  const mesh = await map(t, text);
  t.deepEqual(svc(mesh, 'web').EndpointSpec, { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }, { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' }] });
  const none = await map(t, text, { ipvs: false });
  t.deepEqual(svc(none, 'web').EndpointSpec, { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }, { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' }] });
  t.is(svc(none, 'api').EndpointSpec.Mode, 'dnsrr');
  const w = none.warnings.find((x) => x.path === 'services.api.deploy.endpoint_mode')!;
  t.is(w.line, 8);
  t.regex(w.message, /no IPVS/);
});

test('keys Swarm has no form for: one warning each, with file and line', async (t) => {
  const d = await map(t, `services:
  db:
    image: a
  web:
    image: a
    privileged: true
    devices: ["/dev/fuse:/dev/fuse"]
    cap_add: [NET_ADMIN]
    container_name: web1
    depends_on:
      db: {condition: service_healthy}
    volumes: [data:/data, ./src:/src]
volumes: {data: {}}
`, { unpushedBuilds: ['db'] });
  const at = (p: string) => d.warnings.find((w) => w.path === p);
  for (const [p, line, re] of [
    ['services.web.privileged', 6, /cannot run privileged/],
    ['services.web.devices', 7, /host devices/],
    ['services.web.container_name', 9, /names each task/],
    ['services.web.depends_on.db', 11, /no depends_on: tsstack deploys db first and waits until they are healthy/],
    ['services.web.volumes[1]', 12, /every node/],
    ['volumes.data', 13, /per node/],
    ['services.db.build', undefined, /names no registry/],
  ] as const) {
    const w = at(p);
    t.truthy(w, `a warning for ${p}: ${JSON.stringify(d.warnings)}`);
    if (!w) continue;
    if (line !== undefined) t.is(w.line, line, p);
    t.is(w.file, d.file);
    t.regex(w.message, re);
  }
  t.falsy(at('services.web.cap_add'), 'capabilities map (CapabilityAdd)');
  t.deepEqual(svc(d, 'web').TaskTemplate.ContainerSpec.CapabilityAdd, ['NET_ADMIN']);
  t.deepEqual(d.services.find((s) => s.key === 'web')!.dependsOn, ['db']);
  t.like(svc(d, 'web').TaskTemplate.ContainerSpec.Mounts[0], { Type: 'volume', Source: 'demo_data', Target: '/data' });
});

test('secrets and configs: named by content hash, a changed file a new name; refs by name with targets and modes', async (t) => {
  const text = `
services:
  web:
    image: a
    secrets: [token, {source: key, target: /etc/key, mode: 0400}]
    configs: [motd]
secrets:
  token: {file: ./token.txt}
  key: {external: true, name: shared_key}
configs:
  motd: {file: ./motd.txt}
`;
  const a = await map(t, text, {}, { 'token.txt': 'one', 'motd.txt': 'hi' });
  const b = await map(t, text, {}, { 'token.txt': 'two', 'motd.txt': 'hi' });
  const tokA = a.secrets.find((s) => s.key === 'token')!, tokB = b.secrets.find((s) => s.key === 'token')!;
  t.regex(tokA.name, /^demo_token_[0-9a-f]{8}$/);
  t.not(tokA.name, tokB.name);
  t.is(Buffer.from(String(tokA.create!.Data), 'base64').toString(), 'one');
  t.is(a.configs[0]!.name, b.configs[0]!.name, 'same content, same name');
  t.like(a.secrets.find((s) => s.key === 'key'), { external: true, name: 'shared_key', create: undefined });
  const cs = svc(a, 'web').TaskTemplate.ContainerSpec;
  t.deepEqual(cs.Secrets, [
    { File: { Name: 'token', UID: '0', GID: '0', Mode: 0o444 }, SecretName: tokA.name },
    { File: { Name: '/etc/key', UID: '0', GID: '0', Mode: 0o400 }, SecretName: 'shared_key' },
  ]);
  t.deepEqual(cs.Configs, [{ File: { Name: '/motd', UID: '0', GID: '0', Mode: 0o444 }, ConfigName: a.configs[0]!.name }]);
  t.not(a.services[0]!.hash, b.services[0]!.hash, 'the service that uses it changes');
});

test('an unreadable secret file is an error naming the file and line', async (t) => {
  const e = await t.throwsAsync(map(t, 'services:\n  a:\n    image: a\n    secrets: [s]\nsecrets:\n  s:\n    file: ./missing.txt\n'));
  t.regex(e!.message, /secret s: cannot read .*missing\.txt/);
  t.is((e as any).location.line, 7);
});

test('pushed images: the mapper uses the pinned reference it is given; equal stacks hash equal', async (t) => {
  const text = 'services:\n  a:\n    image: reg:5000/a:1\n';
  const d = await map(t, text, { images: { a: 'reg:5000/a:1@sha256:' + 'ab'.repeat(32) } });
  t.is(svc(d, 'a').TaskTemplate.ContainerSpec.Image, 'reg:5000/a:1@sha256:' + 'ab'.repeat(32));
  const again = await map(t, text, { images: { a: 'reg:5000/a:1@sha256:' + 'ab'.repeat(32) } });
  t.is(d.services[0]!.hash, again.services[0]!.hash);
});

test('where images go: the registry the name says, else --registry, else nowhere', async (t) => {
  const { namesRegistry, pushTarget } = await import('../../../src/deploy/swarm/images.js');
  t.true(namesRegistry('reg.example/app:1'));
  t.true(namesRegistry('10.0.0.1:5000/app'));
  t.true(namesRegistry('localhost/app'));
  t.false(namesRegistry('library/redis'));
  t.false(namesRegistry('redis:7'));
  t.is(pushTarget('reg:5000/app:1', 'other:5000'), 'reg:5000/app:1');
  t.is(pushTarget('team/app:1', 'reg:5000/'), 'reg:5000/team/app:1');
  t.is(pushTarget('app', undefined), undefined);
});

test('a build without image: is named <project>-<service>, as up names it', async (t) => {
  const d = await map(t, 'services:\n  api:\n    build: .\n');
  t.is(svc(d, 'api').TaskTemplate.ContainerSpec.Image, 'demo-api');
});
