// `tsstack deploy --to swarm` against a real three-node Swarm (_fixture.ts):
// bad input first (nothing may be left of it), then a stack of two services
// on an overlay network is deployed, edited, re-deployed, survives a node
// going down, and is removed. The tests share one Swarm and run in order.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBusyboxRootfs } from '../../helpers/rootfs.js';
import { skipWhen } from '../../helpers/skip.js';
import { Sandbox, isolateNetwork, type Run } from '../../examples/_cli.js';
import { SwarmFixture, swarmMissing, type SwarmNode } from './_fixture.js';

const why = swarmMissing();
const serial = skipWhen(why, why).serial;

let sw: SwarmFixture;
let sb: Sandbox;
let dir: string;
const project = 'swt';

const STACK = (o: { greeting: string }) => `
services:
  web:
    # built here, pushed by the deploy, pulled by the nodes
    image: \${REG}/web:1
    build:
      context: .
      dockerfile_inline: |
        FROM \${REG}/bb:1
        COPY motd.txt /built-in.txt
    command: ["sh", "-c", "echo web started; mkdir -p /www && echo \\"web $$(hostname) $$(cat /run/secrets/token) $$(cat /built-in.txt)\\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    deploy:
      replicas: 3
      placement:
        preferences: [{spread: node.id}]
      update_config: {monitor: 2s}
    healthcheck:
      test: ["CMD-SHELL", "test -s /www/index.html"]
      interval: 1s
      retries: 30
    secrets: [token]
    networks: [back]
    # busybox httpd as pid 1 ignores SIGTERM: no 10 s wait per task on a rolling update
    stop_grace_period: 1s
  front:
    image: \${REG}/bb:1
    command: ["sh", "-c", "mkdir -p /www && echo \\"front $$(hostname) $$GREETING $$(cat /motd)\\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment:
      GREETING: ${o.greeting}
    deploy:
      mode: global
      update_config: {monitor: 2s}
    ports: ["8080:80"]
    depends_on:
      web: {condition: service_healthy}
    configs: [motd]
    networks: [back]
    stop_grace_period: 1s
networks:
  back: {}
secrets:
  token: {file: ./token.txt}
configs:
  motd: {file: ./motd.txt}
`;

function writeStack(greeting = 'hello', token = 'tok-1'): void {
  writeFileSync(join(dir, 'stack.yaml'), STACK({ greeting }));
  writeFileSync(join(dir, 'token.txt'), token);
  writeFileSync(join(dir, 'motd.txt'), 'motd-1');
}

function tsstack(...args: string[]): Promise<Run> {
  return sb.exec('node', [join(process.cwd(), 'bin/tsstack.js'), '-f', join(dir, 'stack.yaml'), '-p', project, ...args], { cwd: dir, timeoutMs: 240_000 });
}
const deploy = (...extra: string[]) => tsstack('deploy', '--to', 'swarm', '--host', sw.hostOf(sw.manager), ...extra);

/** What the manager has of the project: services, networks, secrets, configs. */
async function projectObjects(): Promise<string[]> {
  const out: string[] = [];
  for (const kind of ['service', 'network', 'secret', 'config']) {
    const r = await sw.docker(sw.manager, [kind, 'ls', '--filter', `label=tsstack.project=${project}`, '--format', '{{.Name}}']);
    out.push(...r.out.split('\n').filter(Boolean).map((n) => `${kind} ${n}`));
  }
  return out;
}

interface ServiceState { version: number; tasks: { id: string; node: string; state: string }[] }
async function service(key: string): Promise<ServiceState> {
  const v = await sw.docker(sw.manager, ['service', 'inspect', `${project}_${key}`, '--format', '{{.Version.Index}}']);
  const ps = await sw.docker(sw.manager, ['service', 'ps', `${project}_${key}`, '--filter', 'desired-state=running', '--format', '{{.ID}} {{.Node}} {{.CurrentState}}', '--no-trunc']);
  return {
    version: Number(v.out.trim()),
    tasks: ps.out.split('\n').filter(Boolean).map((l) => { const [id, node, state] = l.split(' '); return { id: id!, node: node!, state: state! }; }),
  };
}

/** A running container of the service on some node: [node, container id]. */
async function containerOf(key: string): Promise<[SwarmNode, string]> {
  for (const n of sw.nodes) {
    if (n.dockerd?.exitCode !== null && n.dockerd?.exitCode !== undefined) continue;
    const r = await sw.docker(n, ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${project}_${key}`]);
    const id = r.out.split('\n').find(Boolean);
    if (id) return [n, id];
  }
  throw new Error(`no running container of ${key}`);
}

async function httpGet(url: string): Promise<string> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return await r.text();
  } catch {
    return '';
  }
}

/** The stack dumps containerd leaves in /tmp when it is stopped (containerd.<pid>.stacks.log). */
const stackDumps = () => new Set(readdirSync(tmpdir()).filter((n) => /^containerd\.\d+\.stacks\.log$/.test(n)));
let dumpsBefore = new Set<string>();

test.before(async () => {
  if (why) return;
  dumpsBefore = stackDumps();
  isolateNetwork();
  sw = new SwarmFixture();
  try {
    await sw.start();
  } catch (e) {
    await sw.teardown().catch(() => {});
    throw e;
  }
  sb = new Sandbox({ TSSTACK_INSECURE_REGISTRIES: sw.registry, REG: sw.registry });
  dir = join(sb.base, 'proj');
  mkdirSync(dir);
  const rootfs = makeBusyboxRootfs(join(sb.base, 'rootfs'));
  const imp = await sb.exec('node', [join(process.cwd(), 'bin/tsstack.js'), 'image', 'import', rootfs, `${sw.registry}/bb:1`]);
  if (imp.code !== 0) throw new Error(`image import: ${imp.err}`);
  writeStack();
});

test.after.always(async () => {
  if (why) return;
  await sw?.teardown();
  sb?.dispose();
});

serial('bad input: an unreachable engine, a worker, a refusing registry, an image never built, a name taken: one error each, exit code, nothing deployed', async (t) => {
  const down = await tsstack('deploy', '--to', 'swarm', '--host', `unix://${join(sb.base, 'nothing.sock')}`);
  t.is(down.code, 9, down.err);
  t.regex(down.err, /cannot reach the Docker engine at unix:\/\/.*nothing\.sock/);

  const worker = await tsstack('deploy', '--to', 'swarm', '--host', sw.hostOf(sw.nodes[1]!));
  t.is(worker.code, 9, worker.err);
  t.regex(worker.err, /is a Swarm worker, not a manager/);

  // a registry that answers /v2/ but refuses every push
  const refusing: Server = createServer((req, res) => {
    req.resume();
    if (req.url === '/v2/') res.writeHead(200).end('{}');
    else res.writeHead(403, { 'content-type': 'application/json' }).end('{"errors":[{"code":"DENIED","message":"read-only registry"}]}');
  });
  await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
  const port = (refusing.address() as { port: number }).port;
  const tag = await sb.exec('node', [join(process.cwd(), 'bin/tsstack.js'), 'image', 'tag', `${sw.registry}/bb:1`, `127.0.0.1:${port}/bb:1`]);
  t.is(tag.code, 0, tag.err);
  const refused = await sb.exec('node', [join(process.cwd(), 'bin/tsstack.js'), '-f', join(dir, 'stack.yaml'), '-p', project, 'deploy', '--to', 'swarm', '--host', sw.hostOf(sw.manager)],
    { cwd: dir, env: { REG: `127.0.0.1:${port}` } });
  await new Promise((r) => refusing.close(r));
  t.is(refused.code, 9, refused.err);
  t.regex(refused.err, /403|denied|read-only/i);

  const never = await sb.exec('node', [join(process.cwd(), 'bin/tsstack.js'), '-f', join(dir, 'stack.yaml'), '-p', project, 'deploy', '--to', 'swarm', '--host', sw.hostOf(sw.manager)],
    { cwd: dir, env: { REG: `${sw.registry}/never` } });
  t.is(never.code, 5, never.err);
  t.regex(never.err, /was never built here/);

  // a name the project would create, taken by something that is not the project's
  t.is((await sw.docker(sw.manager, ['network', 'create', '-d', 'overlay', `${project}_back`])).code, 0);
  const taken = await deploy();
  t.is((await sw.docker(sw.manager, ['network', 'rm', `${project}_back`])).code, 0);
  t.is(taken.code, 4, taken.err);
  t.regex(taken.err, /already has network swt_back, not of project swt/);

  t.deepEqual(await projectObjects(), [], 'nothing of the project on the Swarm');
  const services = (await sw.docker(sw.manager, ['service', 'ls', '-q'])).out.trim();
  t.is(services, '', 'no service at all (the IPVS probe removed itself)');
});

serial('deploy: 3 replicas spread over the nodes, a host-mode port answering on each node, names resolved across nodes', async (t) => {
  const r = await deploy();
  t.is(r.code, 0, r.err + r.out);
  t.regex(r.err, /no IPVS/, 'says once, in plain words, why dnsrr and host-mode ports');
  t.is(r.err.match(/no IPVS/g)!.length, 1);
  t.regex(r.err, /stack\.yaml:\d+: services\.front\.depends_on\.web: Swarm has no depends_on/);
  // front depends on web (healthy): web is made and running before front is made
  t.regex(r.out, /create service web\n(?:.*\n)*waiting for web to run[^\n]*\n(?:.*\n)*create service front/);

  const web = await service('web');
  t.is(web.tasks.length, 3);
  t.deepEqual(web.tasks.map((x) => x.node).sort(), ['node1', 'node2', 'node3'], 'one replica per node');
  const front = await service('front');
  t.is(front.tasks.length, 3, 'global: a task per node');

  const spec = JSON.parse((await sw.docker(sw.manager, ['service', 'inspect', `${project}_front`, '--format', '{{json .Spec}}'])).out);
  t.is(spec.EndpointSpec.Mode, 'dnsrr');
  t.is(spec.EndpointSpec.Ports[0].PublishMode, 'host');
  // the front service answers on every node's address
  for (const n of sw.nodes) {
    let body = '';
    await sw.until(async () => /^front \S+ hello motd-1/.test(body = await httpGet(`http://${n.addr}:8080/`)), 20_000, `front on ${n.name}`).catch(() => {});
    t.regex(body, /^front \S+ hello motd-1/, `${n.name} answers`);
  }
  // from a front container, `web` resolves to the three replicas (on three nodes), and each answers
  const [node, cid] = await containerOf('front');
  const ips = (await sw.docker(node, ['exec', cid, 'nslookup', 'web'])).out.split('\n').filter((l) => /^Address: /.test(l)).map((l) => l.slice(9).trim()).filter((a) => !a.startsWith('127.'));
  t.is(ips.length, 3, `web resolves to three tasks: ${ips.join(' ')}`);
  const answers = new Set<string>();
  for (const ip of ips) {
    const got = await sw.docker(node, ['exec', cid, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} 80`]);
    const m = /web (\S+) tok-1 motd-1/.exec(got.out);
    if (m) answers.add(m[1]!);
  }
  t.is(answers.size, 3, 'three different web containers answer');

  const ps = await tsstack('ps', '--swarm', sw.hostOf(sw.manager));
  t.is(ps.code, 0, ps.err);
  t.is(ps.out.split('\n').filter((l) => /^web\.\d/.test(l) && / running /.test(l)).length, 3, ps.out);
  const logs = await tsstack('logs', '--swarm', sw.hostOf(sw.manager), 'web');
  t.is(logs.code, 0, logs.err);
  t.deepEqual(logs.out.split('\n').filter(Boolean).sort(), ['web.1 | web started', 'web.2 | web started', 'web.3 | web started']);
});

serial('a second deploy with nothing changed changes nothing', async (t) => {
  const before = [await service('web'), await service('front')];
  const plan = await deploy('--plan');
  t.is(plan.code, 0, plan.err);
  t.regex(plan.out, /nothing to change \(2 services as desired\)/);
  const again = await deploy();
  t.is(again.code, 0, again.err);
  t.regex(again.out, /nothing to change/);
  t.deepEqual([await service('web'), await service('front')], before);
});

serial('an environment edit rolls only that service', async (t) => {
  const web = await service('web');
  writeStack('bonjour');
  const plan = await deploy('--plan');
  t.is(plan.code, 0, plan.err);
  t.deepEqual(plan.out.trim().split('\n'), ['update service front (changed: environment.GREETING)']);
  const r = await deploy();
  t.is(r.code, 0, r.err);
  t.deepEqual(await service('web'), web, 'web untouched');
  for (const n of sw.nodes) t.regex(await httpGet(`http://${n.addr}:8080/`), /front \S+ bonjour/);
});

serial('a changed secret file rolls the services that use it, and the old version goes', async (t) => {
  const front = await service('front');
  const secretsBefore = (await projectObjects()).filter((o) => o.startsWith('secret '));
  writeStack('bonjour', 'tok-2');
  const plan = await deploy('--plan');
  t.regex(plan.out, /^create secret swt_token_[0-9a-f]{8}$/m);
  t.regex(plan.out, /^update service web \(changed: secrets\.token\)$/m);
  t.regex(plan.out, /^remove secret swt_token_/m);
  t.notRegex(plan.out, /service front/);
  const r = await deploy();
  t.is(r.code, 0, r.err);
  t.deepEqual(await service('front'), front, 'front (no secret) untouched');
  const secretsAfter = (await projectObjects()).filter((o) => o.startsWith('secret '));
  t.is(secretsAfter.length, 1);
  t.notDeepEqual(secretsAfter, secretsBefore);
  const [node, cid] = await containerOf('front');
  const got = await sw.docker(node, ['exec', cid, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 web 80`]);
  t.regex(got.out, /tok-2/);
});

serial('a failed update leaves the previous version running (Swarm rolls back)', async (t) => {
  writeFileSync(join(dir, 'stack.yaml'), STACK({ greeting: 'bonjour' }).replace('exec httpd -f -p 80 -h /www"]', 'exit 3"]'));
  const r = await tsstack('deploy', '--to', 'swarm', '--host', sw.hostOf(sw.manager));
  t.is(r.code, 9, r.err);
  t.regex(r.err, /update of service (web|front) failed/);
  writeStack('bonjour', 'tok-2');
  const spec = JSON.parse((await sw.docker(sw.manager, ['service', 'inspect', `${project}_web`, '--format', '{{json .Spec}}'])).out);
  t.regex(spec.TaskTemplate.ContainerSpec.Args.join(' '), /exec httpd/, 'web is back at its previous spec');
  const web = await service('web');
  t.is(web.tasks.filter((x) => x.state === 'Running').length, 3, 'and runs it (tsstack waited for the rollback)');
  for (const n of sw.nodes) t.regex(await httpGet(`http://${n.addr}:8080/`), /front \S+ bonjour/, 'front was never touched');
  const [node, cid] = await containerOf('front');
  const got = await sw.docker(node, ['exec', cid, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 web 80`]);
  t.regex(got.out, /web \S+ tok-2/);
});

serial('a node whose daemon stops: its replicas are rescheduled on the others', async (t) => {
  const n3 = sw.nodes[2]!;
  await sw.stopDaemon(n3);
  await sw.until(async () => {
    const web = await service('web');
    return web.tasks.length === 3 && web.tasks.every((x) => x.node !== 'node3' && x.state === 'Running');
  }, 90_000, 'web rescheduled off node3').catch(() => {});
  const web = await service('web');
  t.is(web.tasks.length, 3);
  t.true(web.tasks.every((x) => x.node !== 'node3'), JSON.stringify(web.tasks));
  // the machine comes back (and rejoins the Swarm from its own state)
  await sw.startDaemon(n3);
  await sw.until(async () => (await sw.readyNodes()).length === 3, 60_000, 'node3 back');
});

serial('--with-registry-auth: the nodes pull from a registry that wants a login with the Docker config\'s credentials; without it they cannot', async (t) => {
  const adir = join(sb.base, 'private');
  mkdirSync(join(adir, 'docker'), { recursive: true });
  const hash = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', 'pw-alice'], { encoding: 'utf8' }).trim();
  writeFileSync(join(adir, 'htpasswd'), `alice:${hash}\n`);
  await sw.startAuthRegistry(join(adir, 'htpasswd'));
  writeFileSync(join(adir, 'docker', 'config.json'), JSON.stringify({ auths: { [sw.authRegistry]: { auth: Buffer.from('alice:pw-alice').toString('base64') } } }));
  writeFileSync(join(adir, 'stack.yaml'), [
    'services:', '  app:', `    image: ${sw.authRegistry}/private/bb:1`, '    command: ["sleep", "1000"]',
    '    deploy: {replicas: 2, placement: {preferences: [{spread: node.id}]}}', '    stop_grace_period: 1s',
    // from the open registry, which the config has no credentials for
    '  plain:', `    image: ${sw.registry}/bb:1`, '    command: ["sleep", "1000"]', '    stop_grace_period: 1s', '',
  ].join('\n'));
  const env = { DOCKER_CONFIG: join(adir, 'docker'), TSSTACK_INSECURE_REGISTRIES: `${sw.registry},${sw.authRegistry}`, TSSTACK_DEPLOY_TIMEOUT: '25' };
  const tsp = (...args: string[]) => sb.exec('node', [join(process.cwd(), 'bin/tsstack.js'), '-f', join(adir, 'stack.yaml'), '-p', 'swa', ...args], { cwd: adir, env, timeoutMs: 240_000 });
  const dep = (...extra: string[]) => tsp('deploy', '--to', 'swarm', '--host', sw.hostOf(sw.manager), ...extra);
  const tag = await sb.exec('node', [join(process.cwd(), 'bin/tsstack.js'), 'image', 'tag', `${sw.registry}/bb:1`, `${sw.authRegistry}/private/bb:1`], { env });
  t.is(tag.code, 0, tag.err);
  try {
    // tsstack pushes with the credentials either way; without the flag the nodes have none to pull with
    const without = await dep();
    t.is(without.code, 9, without.err);
    t.regex(without.err, /service app did not get its tasks running/);
    t.is((await tsp('deploy', '--to', 'swarm', '--host', sw.hostOf(sw.manager), '--rm')).code, 0);

    const withAuth = await dep('--with-registry-auth');
    t.is(withAuth.code, 0, withAuth.err + withAuth.out);
    t.regex(withAuth.err, /warning: --with-registry-auth: no credentials for 10\.199\.0\.254:5000 in \S+config\.json; the Swarm's nodes pull from it with their own/);
    t.notRegex(withAuth.err, /no credentials for 10\.199\.0\.254:5001/);
    const ps = await sw.docker(sw.manager, ['service', 'ps', 'swa_app', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}']);
    t.is(ps.out.split('\n').filter((l) => / Running /.test(l)).length, 2, ps.out);
    // the credentials are the manager's to use, not to show
    const inspect = await sw.docker(sw.manager, ['service', 'inspect', 'swa_app']);
    t.false(/pw-alice|YWxpY2U6cHctYWxpY2U/.test(inspect.out), 'inspect does not give the password back');
    const again = await dep('--with-registry-auth');
    t.is(again.code, 0, again.err);
    t.regex(again.out, /nothing to change/, 'credentials alone do not make a change');

    const k8s = await tsp('deploy', '--to', 'kubernetes', '--with-registry-auth');
    t.is(k8s.code, 2, k8s.err);
    t.regex(k8s.err, /--with-registry-auth goes with --to swarm/);
  } finally {
    await tsp('deploy', '--to', 'swarm', '--host', sw.hostOf(sw.manager), '--rm');
  }
});

serial('--rm removes every service, network, secret and config of the project, and nothing else', async (t) => {
  // something else on the Swarm that --rm must leave alone
  t.is((await sw.docker(sw.manager, ['network', 'create', '-d', 'overlay', 'other_net'])).code, 0);
  const r = await deploy('--rm');
  t.is(r.code, 0, r.err);
  t.deepEqual(await projectObjects(), []);
  const nets = (await sw.docker(sw.manager, ['network', 'ls', '--format', '{{.Name}}'])).out;
  t.regex(nets, /other_net/);
  const again = await deploy('--rm');
  t.regex(again.out, /nothing of project swt/);
});

serial('the fixture leaves nothing behind: no daemon, container, mount, cgroup, namespace holder or directory', async (t) => {
  const dirs = sw.dir;
  await sw.teardown();
  t.deepEqual(sw.leftovers(), []);
  t.false(existsSync(dirs));
  t.deepEqual([...stackDumps()].filter((n) => !dumpsBefore.has(n)), [], 'no stack dump of its containerds left in /tmp');
});
