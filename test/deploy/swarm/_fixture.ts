// A real three-node Docker Swarm for tests: three dockerd (Debian's docker.io),
// each in a network (and uts) namespace of its own with its own data root,
// exec root, socket and bridge address, joined by a bridge in a fourth
// namespace that this test process reaches too (10.199.0.254), where a local
// docker-registry listens. Node 1 is the manager (swarm init), 2 and 3 join as
// workers. `teardown()` stops the daemons and everything they started (by pid),
// unmounts what they mounted, removes their cgroups, namespaces and data,
// even after a failed start.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const DOCKER_CLI = '/usr/bin/docker';
export const DOCKERD = '/usr/sbin/dockerd';
const REGISTRY = '/usr/bin/docker-registry';

const SUBNET = '10.199.0';
export const HOST_ADDR = `${SUBNET}.254`;
const REGISTRY_PORT = 5000;

/** Why the Swarm tests cannot run here, or undefined. */
export function swarmMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(DOCKERD) || !existsSync(DOCKER_CLI)) return 'needs Debian\'s docker.io (dockerd, /usr/bin/docker)';
  if (!existsSync(REGISTRY)) return 'needs Debian\'s docker-registry';
  if (!existsSync('/bin/busybox')) return 'needs busybox-static';
  if (!existsSync('/usr/bin/unshare') || !existsSync('/usr/bin/nsenter')) return 'needs util-linux (unshare, nsenter)';
  return undefined;
}

export interface SwarmNode {
  name: string;
  addr: string;
  sock: string;
  /** The holder of the node's namespaces. */
  nsPid: number;
  dockerd?: ChildProcess;
}

export interface Run { code: number; out: string; err: string }

const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;

/** SIGTERM (SIGKILL when `graceMs` is 0 or passes), and wait, boundedly, until it is gone. */
export async function stopChild(p: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!p || exited(p)) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill(graceMs ? 'SIGTERM' : 'SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((r) => { timer = setTimeout(() => { if (!exited(p)) p.kill('SIGKILL'); r(); }, graceMs); });
  await Promise.race([gone, late]);
  if (!exited(p)) await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
  clearTimeout(timer);
}

export class SwarmFixture {
  readonly dir = mkdtempSync('/tmp/tsstack-swarm-');
  readonly nodes: SwarmNode[] = [];
  readonly registry = `${HOST_ADDR}:${REGISTRY_PORT}`;
  /** A second registry that asks for a login (htpasswd), started by the test that needs it. */
  readonly authRegistry = `${HOST_ADDR}:${REGISTRY_PORT + 1}`;
  private switchPid?: number;
  private holders: ChildProcess[] = [];
  private registryProcs: ChildProcess[] = [];
  private readonly hostLink = `tsw${process.pid % 100000}`;
  private readonly cgroupParent = `tsstack-swarm-${process.pid}`;
  private readonly hadRunDocker = existsSync('/run/docker');
  readonly log: string[] = [];

  constructor() {
    // a worker that dies without teardown must not leave daemons or namespaces running
    process.once('exit', () => {
      for (const p of [...this.nodes.map((n) => n.dockerd), ...this.registryProcs, ...this.holders]) {
        if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    });
  }

  get manager(): SwarmNode { return this.nodes[0]!; }
  hostOf(n: SwarmNode): string { return `unix://${n.sock}`; }

  /** `docker -H node …` */
  async docker(n: SwarmNode, args: string[], timeoutMs = 60_000): Promise<Run> {
    try {
      const r = await run(DOCKER_CLI, ['-H', this.hostOf(n), ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof x.code === 'number' ? x.code : 1, out: x.stdout ?? '', err: x.stderr ?? '' };
    }
  }

  private async sh(cmd: string, args: string[]): Promise<string> {
    const r = await run(cmd, args, { timeout: 30_000 });
    return r.stdout;
  }

  private async holder(name: string): Promise<number> {
    // a namespace lives as long as a process in it: `sleep` holds it, hostname names the Swarm node
    const p = spawn('unshare', ['--net', '--uts', '--', 'sh', '-c', `hostname ${name}; ip link set lo up; exec sleep 100000`], { stdio: 'ignore' });
    this.holders.push(p);
    const deadline = Date.now() + 5000;
    // wait until the process is `sleep` inside its namespace
    while (Date.now() < deadline) {
      try {
        if (readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim() === 'sleep') return p.pid!;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`namespace holder ${name} did not start`);
  }

  private nsenter(pid: number, args: string[]): Promise<string> {
    return this.sh('nsenter', [`--net=/proc/${pid}/ns/net`, ...args]);
  }

  async start(): Promise<void> {
    const sw = this.switchPid = await this.holder('tsw-switch');
    await this.nsenter(sw, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
    await this.nsenter(sw, ['ip', 'link', 'set', 'br0', 'up']);
    for (let i = 1; i <= 3; i++) {
      const name = `node${i}`;
      const nsPid = await this.holder(name);
      await this.nsenter(sw, ['ip', 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', `/proc/${nsPid}/ns/net`]);
      await this.nsenter(sw, ['ip', 'link', 'set', `v${i}`, 'master', 'br0', 'up']);
      await this.nsenter(nsPid, ['ip', 'addr', 'add', `${SUBNET}.1${i}/24`, 'dev', 'eth0']);
      await this.nsenter(nsPid, ['ip', 'link', 'set', 'eth0', 'up']);
      const d = join(this.dir, name);
      mkdirSync(d);
      this.nodes.push({ name, addr: `${SUBNET}.1${i}`, sock: join(d, 'docker.sock'), nsPid });
    }
    // this process's own namespace (the suite's) joins the bridge: tsstack pushes to the registry here
    await this.nsenter(sw, ['ip', 'link', 'add', 'vh', 'type', 'veth', 'peer', 'name', this.hostLink, 'netns', `/proc/${process.pid}/ns/net`]);
    await this.nsenter(sw, ['ip', 'link', 'set', 'vh', 'master', 'br0', 'up']);
    await this.sh('ip', ['addr', 'add', `${HOST_ADDR}/24`, 'dev', this.hostLink]);
    await this.sh('ip', ['link', 'set', this.hostLink, 'up']);
    await this.startRegistry();
    await Promise.all(this.nodes.map((n) => this.startDaemon(n)));
    await this.initSwarm();
  }

  private async startRegistry(addr = this.registry, htpasswd?: string): Promise<void> {
    const d = join(this.dir, `registry-${addr.split(':')[1]}`);
    mkdirSync(d);
    writeFileSync(join(d, 'config.yml'), [
      'version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true',
      'storage:', '  filesystem:', `    rootdirectory: ${join(d, 'data')}`, '  delete:', '    enabled: true',
      'http:', `  addr: ${addr}`,
      ...(htpasswd ? ['auth:', '  htpasswd:', '    realm: tsstack-swarm-test', `    path: ${htpasswd}`] : []), '',
    ].join('\n'));
    this.registryProcs.push(spawn(REGISTRY, ['serve', join(d, 'config.yml')], { stdio: 'ignore' }));
    await this.until(async () => [200, 401].includes((await fetch(`http://${addr}/v2/`).catch(() => undefined))?.status ?? 0), 10_000, 'docker-registry did not start');
  }

  /** Starts `authRegistry`, which lets in only the users of `htpasswd` (lines `user:bcrypt-hash`). */
  startAuthRegistry(htpasswd: string): Promise<void> {
    return this.startRegistry(this.authRegistry, htpasswd);
  }

  /** Starts (or starts again) a node's dockerd; a node that was in the Swarm rejoins it by itself. */
  async startDaemon(n: SwarmNode): Promise<void> {
    const d = join(this.dir, n.name);
    const i = Number(n.name.slice(-1));
    const args = [
      `--net=/proc/${n.nsPid}/ns/net`, `--uts=/proc/${n.nsPid}/ns/uts`, DOCKERD,
      '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '-H', `unix://${n.sock}`, '--pidfile', join(d, 'docker.pid'),
      '--bip', `10.23${i}.0.1/24`, '--cgroup-parent', `/${this.cgroupParent}-${n.name}`, '--insecure-registry', this.registry, '--insecure-registry', this.authRegistry,
      '--userland-proxy=false', '--log-level', 'warn',
    ];
    // nsenter execs dockerd: the child's pid is the daemon's. TMPDIR inside the fixture's directory: the
    // containerd a daemon starts dumps its stacks to $TMPDIR/containerd.<pid>.stacks.log when it is
    // stopped, which the teardown removes with the rest
    mkdirSync(join(d, 'tmp'), { recursive: true });
    n.dockerd = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: join(d, 'tmp') } });
    let tail = '';
    n.dockerd.stderr!.on('data', (b: Buffer) => { tail = (tail + b.toString()).slice(-4000); });
    n.dockerd.once('exit', (c, s) => this.log.push(`${n.name} dockerd exited ${c ?? s}: ${tail.slice(-800)}`));
    await this.until(async () => (await this.docker(n, ['version', '--format', '{{.Server.Version}}'], 5000)).code === 0, 30_000, () => `dockerd of ${n.name} did not start: ${tail.slice(-800)}`);
  }

  private async initSwarm(): Promise<void> {
    const m = this.manager;
    const init = await this.docker(m, ['swarm', 'init', '--advertise-addr', m.addr, '--listen-addr', `${m.addr}:2377`, '--dispatcher-heartbeat', '1s']);
    if (init.code !== 0) throw new Error(`swarm init: ${init.err}`);
    const token = (await this.docker(m, ['swarm', 'join-token', '-q', 'worker'])).out.trim();
    for (const n of this.nodes.slice(1)) {
      const j = await this.docker(n, ['swarm', 'join', '--advertise-addr', n.addr, '--listen-addr', `${n.addr}:2377`, '--token', token, `${m.addr}:2377`]);
      if (j.code !== 0) throw new Error(`swarm join ${n.name}: ${j.err}`);
    }
    await this.until(async () => (await this.readyNodes()).length === 3, 30_000, 'the nodes did not all become ready');
  }

  /** Hostnames of the nodes the manager sees ready. */
  async readyNodes(): Promise<string[]> {
    const r = await this.docker(this.manager, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
    return r.out.split('\n').filter((l) => l.endsWith(' Ready')).map((l) => l.split(' ')[0]!).sort();
  }

  async until(f: () => Promise<boolean>, ms: number, what: string | (() => string)): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await f().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(typeof what === 'string' ? what : what());
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Stops one node's dockerd (SIGTERM, then SIGKILL), as a machine failing would. */
  async stopDaemon(n: SwarmNode): Promise<void> {
    await stopChild(n.dockerd, 10_000);
  }

  /** Processes this fixture's daemons started (containerd, shims, containers): their command lines name its directory. */
  private ours(): number[] {
    const out: number[] = [];
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
      try {
        if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(this.dir)) out.push(Number(e));
      } catch { /* gone */ }
    }
    return out;
  }

  private tornDown = false;

  /** What of this fixture is still there (processes, cgroups, mounts, namespace holders); empty after teardown. */
  leftovers(): string[] {
    const out = [...this.ours(), ...this.cgroupProcs()].map((p) => `process ${p}`);
    out.push(...this.cgroupDirs().map((d) => `cgroup ${d}`), ...this.mountsLeft().map((m) => `mount ${m}`));
    for (const h of this.holders) if (!exited(h)) out.push(`namespace holder ${h.pid}`);
    if (existsSync(`/sys/class/net/${this.hostLink}`)) out.push(`link ${this.hostLink}`);
    return out;
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    const errors: string[] = [];
    const step = async (what: string, f: () => Promise<unknown> | unknown) => {
      try { await f(); } catch (e) { errors.push(`${what}: ${(e as Error).message}`); }
    };
    // leave the Swarm first: the daemons then stop their tasks' containers themselves
    await Promise.all(this.nodes.map((n) => step(`stop ${n.name}`, () => this.stopDaemon(n))));
    for (const r of this.registryProcs) await step('stop registry', () => stopChild(r, 3000));
    // what a killed daemon left: containerd and shims (they name the directory), the tasks' processes (in its cgroups)
    for (let round = 0; round < 3; round++) {
      const pids = [...this.ours(), ...this.cgroupProcs()];
      if (!pids.length) break;
      for (const pid of pids) await step(`kill ${pid}`, () => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
      await new Promise((r) => setTimeout(r, 300));
    }
    await step('unmount', () => this.unmountAll());
    for (const h of this.holders) await step('stop namespace holder', () => stopChild(h, 0));
    await step('remove host link', async () => { if (existsSync(`/sys/class/net/${this.hostLink}`)) await this.sh('ip', ['link', 'del', this.hostLink]); });
    await step('remove cgroups', () => this.removeCgroups());
    await step('remove data', () => rmSync(this.dir, { recursive: true, force: true }));
    // dockerd makes /run/docker/plugins when it is missing: remove it only if this fixture made it and it is empty
    if (!this.hadRunDocker) await step('remove /run/docker', () => { rmdirSync('/run/docker/plugins'); rmdirSync('/run/docker'); });
    if (errors.length) throw new Error(`swarm fixture teardown: ${errors.join('; ')}`);
  }

  /** Mounts below the fixture's directory (overlay roots, shm, pinned namespaces), deepest first. */
  mountsLeft(): string[] {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(this.dir));
  }

  private async unmountAll(): Promise<void> {
    for (let round = 0; round < 5; round++) {
      const left = this.mountsLeft().sort((a, b) => b.length - a.length);
      if (!left.length) return;
      for (const m of left) await this.sh('umount', ['-l', m]).catch(() => {});
    }
    const left = this.mountsLeft();
    if (left.length) throw new Error(`still mounted: ${left.join(', ')}`);
  }

  /** This fixture's cgroup directories, in every hierarchy. */
  private cgroupDirs(): string[] {
    const out: string[] = [];
    for (const root of ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c))]) {
      let entries: string[];
      try { entries = readdirSync(root); } catch { continue; }
      for (const e of entries) if (e.startsWith(this.cgroupParent)) out.push(join(root, e));
    }
    return out;
  }

  private cgroupProcs(): number[] {
    const pids = new Set<number>();
    const walk = (dir: string) => {
      try {
        for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
      } catch { /* gone */ }
    };
    for (const d of this.cgroupDirs()) walk(d);
    pids.delete(process.pid);
    return [...pids];
  }

  private removeCgroups(): void {
    const rm = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
      rmdirSync(dir);
    };
    for (const d of this.cgroupDirs()) rm(d);
  }
}
