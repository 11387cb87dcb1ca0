// In-memory container drivers (src/engine/runtime/drivers.ts) and engine parts (runtime/deps.ts) for
// Containers' unit tests. They keep state as the host would: the monitor holds each container's state
// file and which monitors and container processes live; the runtime which containers it has a record
// of; the rootfs which containers are mounted. Every call is logged in `calls` ("monitor.start c1"),
// in order, so a test can assert sequencing and undo. `failOn(name)` makes the next call of that name
// fail. Networking is the real NetworkManager over the fake network drivers (fakes/network.ts), seen
// through a recorder that logs "net.*" calls in the same list.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AttachDriver, BundleDriver, ContainerDrivers, HooksDriver, MonitorDriver, RuntimeDrivers, RuntimeOps } from '../../src/engine/runtime/drivers.js';
import type { DnsProvider, DnsRecordInput, RootfsProvider, SandboxProvider } from '../../src/engine/runtime/deps.js';
import type { MonitorOptions, MonitorState } from '../../src/engine/runtime/monitor-client.js';
import type { HookRun } from '../../src/engine/runtime/lifecycle-hooks.js';
import { NetworkManager } from '../../src/engine/network/manager.js';
import { Containers } from '../../src/engine/runtime/containers.js';
import { Faults, fakeNetworkDrivers, type FakeNetwork } from './network.js';

export class Log extends Faults {
  constructor() {
    super([]);
  }

  failOn(name: string, message = `${name} failed (injected)`, times = 1): void {
    this.set(name, message, times);
  }

  /** The calls whose name starts with one of `prefixes`, names only ("monitor.start", not its detail). */
  names(...prefixes: string[]): string[] {
    return this.calls.map((c) => c.split(' ')[0]!).filter((c) => !prefixes.length || prefixes.some((p) => c.startsWith(p)));
  }
}

interface Supervised {
  statePath: string;
  socketPath: string;
  opts: MonitorOptions;
  monitorPid: number;
  pid: number;
}

const short = (id: string) => id.slice(0, 12);

export class FakeMonitor implements MonitorDriver {
  states = new Map<string, MonitorState>();
  monitors = new Set<number>();
  procs = new Map<number, string>(); // container pid → container id
  byId = new Map<string, Supervised>();
  private nextPid = 1000;
  runtime!: FakeRuntime;
  constructor(private readonly log: Log) {}

  async start(o: MonitorOptions): Promise<number> {
    this.log.hit('monitor.start', short(o.id));
    const monitorPid = this.nextPid++, pid = this.nextPid++;
    this.monitors.add(monitorPid);
    this.procs.set(pid, o.id);
    this.runtime.records.add(o.id);
    this.byId.set(o.id, { statePath: o.statePath, socketPath: o.socketPath, opts: o, monitorPid, pid });
    const prev = this.states.get(o.statePath);
    this.states.set(o.statePath, { status: 'running', pid, exitCode: 0, signal: 0, oomKilled: false, restartCount: prev?.restartCount ?? 0, monitorPid, startedAt: new Date().toISOString() });
    return monitorPid;
  }
  state(statePath: string): MonitorState | undefined {
    const st = this.states.get(statePath);
    return st && structuredClone(st);
  }
  writeState(statePath: string, st: MonitorState): void {
    this.log.hit('monitor.writeState', st.status);
    this.states.set(statePath, structuredClone(st));
  }
  isMonitor(pid: number): boolean {
    return this.monitors.has(pid);
  }
  isGuard(): boolean {
    return false;
  }
  processAlive(pid: number): boolean {
    return pid === process.pid || this.monitors.has(pid) || this.procs.has(pid); // an attached run's monitor is the caller
  }
  inContainer(pid: number, id: string): boolean {
    return this.procs.get(pid) === id;
  }
  async control(socketPath: string, line: string): Promise<string> {
    this.log.hit('monitor.control', line);
    const s = [...this.byId.entries()].find(([, v]) => v.socketPath === socketPath);
    if (!s) return 'error no such monitor';
    const [, sig] = line.split(' ');
    if (['SIGKILL', 'KILL', '9'].includes(sig!.toUpperCase())) this.exit(s[0], 137);
    return 'ok';
  }
  async requestStop(socketPath: string, monitorPid: number, timeoutMs?: number): Promise<void> {
    const s = [...this.byId.entries()].find(([, v]) => v.socketPath === socketPath);
    this.log.hit('monitor.requestStop', `${s ? short(s[0]) : '?'} ${timeoutMs}`);
    if (s && s[1].monitorPid === monitorPid) this.exit(s[0], 143, true);
  }
  async waitForExit(statePath: string): Promise<MonitorState | undefined> {
    return this.state(statePath);
  }

  /** The container's process exits with `code`; its monitor ends too unless it restarts it (`restart` not `no`) and `stopped` is false. */
  exit(id: string, code: number, stopped = false): void {
    const s = this.byId.get(id)!;
    this.procs.delete(s.pid);
    const st = this.states.get(s.statePath)!;
    Object.assign(st, { status: 'exited', pid: 0, exitCode: code, signal: code > 128 ? code - 128 : 0, finishedAt: new Date().toISOString() });
    if (stopped || (s.opts.restart ?? 'no') === 'no') {
      this.monitors.delete(s.monitorPid);
      this.runtime.records.delete(id);
    }
  }

  /** The monitor is killed (kill -9 of it and its guard): the container runs on unsupervised. */
  crash(id: string): void {
    this.monitors.delete(this.byId.get(id)!.monitorPid);
  }
}

export class FakeRuntime implements RuntimeDrivers {
  /** Containers the runtime has a record (state directory) of. */
  records = new Set<string>();
  monitor!: FakeMonitor;
  constructor(private readonly log: Log) {}

  open(binary: string, root: string): RuntimeOps {
    const log = this.log, self = this;
    return {
      binary,
      root,
      async kill(id: string, signal = 'SIGTERM') {
        log.hit('runtime.kill', `${short(id)} ${signal}`);
        for (const [pid, owner] of self.monitor.procs) if (owner === id) self.monitor.procs.delete(pid);
      },
      async delete(id: string) {
        log.hit('runtime.delete', short(id));
        self.records.delete(id);
      },
      async exec(id: string, argv: string[]) {
        log.hit('runtime.exec', `${short(id)} ${argv.join(' ')}`);
        return 0;
      },
      async run(args: string[]) {
        log.hit('runtime.run', args.join(' '));
        return { code: 0, stdout: '', stderr: '' };
      },
    };
  }
  has(_root: string, id: string): boolean {
    return this.records.has(id);
  }
  removeCgroup(rel: string): void {
    this.log.hit('runtime.removeCgroup', rel.split('/')[0]!);
  }
}

/** Writes config.json where the real one does (recovery looks for it there), as plain JSON. */
export class FakeBundle implements BundleDriver {
  constructor(private readonly log: Log) {}
  write(bundleDir: string, config: object): void {
    this.log.hit('bundle.write');
    writeFileSync(join(bundleDir, 'config.json'), JSON.stringify(config));
  }
  read(bundleDir: string): Record<string, any> {
    return JSON.parse(readFileSync(join(bundleDir, 'config.json'), 'utf8')) as Record<string, any>;
  }
}

export class FakeAttach implements AttachDriver {
  exitCode = 0;
  /** Runs while the container "runs" attached (a test looks at inspect() then). */
  during?: () => Promise<void> | void;
  monitor!: FakeMonitor;
  constructor(private readonly log: Log) {}
  async run(o: { id: string }, onPid: (pid: number) => void): Promise<number> {
    this.log.hit('attach.run', short(o.id));
    this.monitor.procs.set(7777, o.id);
    onPid(7777);
    await this.during?.();
    this.monitor.procs.delete(7777);
    return this.exitCode;
  }
}

export class FakeHooks implements HooksDriver {
  /** Results by a text the hook's argv contains; the rest exit 0. */
  results: [string, HookRun][] = [];
  constructor(private readonly log: Log) {}
  async run(_binary: string, _root: string, args: string[], timeoutMs?: number): Promise<HookRun> {
    const text = args.join(' ');
    this.log.hit('hooks.run', `${text}${timeoutMs !== undefined ? ` (${timeoutMs > 0 ? 'budget' : 'none'})` : ''}`);
    return this.results.find(([k]) => text.includes(k))?.[1] ?? { code: 0, output: '', timedOut: false };
  }
}

export class FakeRootfs implements RootfsProvider {
  mounted = new Set<string>();
  constructor(private readonly log: Log) {}
  async mountRootfs(imageId: string, dir: string): Promise<string> {
    this.log.hit('images.mountRootfs', imageId);
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    this.mounted.add(dir);
    return rootfs;
  }
  async unmountRootfs(dir: string): Promise<void> {
    this.log.hit('images.unmountRootfs');
    this.mounted.delete(dir);
  }
}

export class FakeDns implements DnsProvider {
  records = new Map<string, DnsRecordInput>();
  constructor(private readonly log: Log) {}
  setContainer(rec: DnsRecordInput): void {
    this.log.hit('dns.set', rec.name);
    this.records.set(rec.id, rec);
  }
  removeContainer(id: string): void {
    this.log.hit('dns.remove', short(id));
    this.records.delete(id);
  }
  async ensureRunning(): Promise<void> {
    this.log.hit('dns.ensureRunning');
  }
}

/** A SandboxProvider that logs "net.<method>" before passing the call on. */
export function recordedNetwork(log: Log, net: SandboxProvider): SandboxProvider {
  const wrap = <K extends keyof SandboxProvider>(k: K) => (async (...args: unknown[]) => {
    log.hit(`net.${k}`);
    return (net[k] as (...a: unknown[]) => unknown).apply(net, args);
  }) as unknown as SandboxProvider[K];
  return {
    createSandbox: wrap('createSandbox'),
    connect: wrap('connect'),
    disconnect: wrap('disconnect'),
    removeSandbox: wrap('removeSandbox'),
    publish: wrap('publish'),
    unpublish: wrap('unpublish'),
    gateways: wrap('gateways'),
    // not logged: a look at a counter, as cheap as the real one
    networkChanges: () => net.networkChanges?.() ?? 0,
  };
}

export interface FakeContainerHost extends ContainerDrivers {
  log: Log;
  monitor: FakeMonitor;
  runtime: FakeRuntime;
  bundle: FakeBundle;
  attach: FakeAttach;
  hooks: FakeHooks;
  images: FakeRootfs;
  dns: FakeDns;
}

export function fakeContainerHost(): FakeContainerHost {
  const log = new Log();
  const monitor = new FakeMonitor(log);
  const runtime = new FakeRuntime(log);
  const attach = new FakeAttach(log);
  monitor.runtime = runtime;
  runtime.monitor = monitor;
  attach.monitor = monitor;
  return { log, monitor, runtime, bundle: new FakeBundle(log), attach, hooks: new FakeHooks(log), images: new FakeRootfs(log), dns: new FakeDns(log) };
}

export interface FakeParts {
  /** Containers over the fake host; its network is `net` seen through recordedNetwork. */
  c: Containers;
  h: FakeContainerHost;
  /** The real NetworkManager over fake kernel parts. */
  net: NetworkManager;
  nd: FakeNetwork;
  /** What Containers warned about (deps.warn). */
  warnings: string[];
}

/** Containers and NetworkManager on `root`/`runRoot` (temp directories), every host part a fake. */
export function fakeParts(root: string, runRoot: string): FakeParts {
  const h = fakeContainerHost();
  const nd = fakeNetworkDrivers();
  const net = new NetworkManager({ root, runRoot, drivers: nd });
  const warnings: string[] = [];
  const c = new Containers({ root, runRoot, images: h.images, network: recordedNetwork(h.log, net), dns: h.dns, drivers: h, warn: (m) => warnings.push(m) });
  return { c, h, net, nd, warnings };
}
