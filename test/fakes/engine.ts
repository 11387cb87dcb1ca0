// An in-memory Engine (the api.ts interfaces) for testing reconcile/ and cli/
// logic without a kernel. Records every mutating call in `journal` so tests can
// assert order; `behaviour` decides what a started container does.

import type {
  ContainerApi, ContainerCreateSpec, ContainerInfo, ContainerStats, Engine, ExecOptions, HealthStatus, HostApi, ImageApi, ImageInfo,
  Labels, LogLine, LogOptions, NetworkApi, OutputChunk, NetworkCreateSpec, NetworkInfo, PendingChange, PublishedPort, RecoveryReport, StateFingerprint, VolumeApi, VolumeInfo, BuildRequest, PullPolicy,
} from '../../src/engine/api.js';
import { makeBindSources, writeGeneratedFiles } from '../../src/engine/host-files.js';
import { TsstackError } from '../../src/util/errors.js';

export interface StartOutcome {
  status?: ContainerInfo['status'];
  exitCode?: number;
  health?: HealthStatus;
  /** Fail start() with this message. */
  fail?: string;
}

function matches(labels: Labels, filter?: Labels): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([k, v]) => labels[k] === v);
}

let seq = 0;
const now = () => new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString();

export class FakeEngine implements Engine {
  root = '/fake/root';
  runRoot = '/fake/run';
  journal: string[] = [];
  /** The options of each exec, in order. */
  execOptions: ExecOptions[] = [];
  /** Image refs the fake "registry" can pull. */
  registry = new Map<string, ImageInfo>();
  imagesByRef = new Map<string, ImageInfo>();
  nets = new Map<string, NetworkInfo>();
  vols = new Map<string, VolumeInfo>();
  ctrs = new Map<string, ContainerInfo & { spec: ContainerCreateSpec }>();
  behaviour: (spec: ContainerCreateSpec) => StartOutcome = () => ({});
  busyPorts = new Map<number, string>();
  badSubnets = new Set<string>();
  /** How often networks.list was called (observe skips it on a no-op). */
  networkCalls = 0;
  private nextId = 1;

  addImage(ref: string, config: ImageInfo['config'] = {}, id?: string): ImageInfo {
    const info: ImageInfo = { id: id ?? `sha256:${ref.replace(/[^a-z0-9]/g, '').padEnd(8, '0')}`, names: [ref], config, chainIds: [], size: 1 };
    this.imagesByRef.set(ref, info);
    return info;
  }

  images: ImageApi = {
    inspect: async (ref) => this.imagesByRef.get(ref),
    list: async () => [...this.imagesByRef.values()],
    ensure: async (ref: string, policy: PullPolicy) => {
      const have = this.imagesByRef.get(ref);
      if (have && policy !== 'always') return have;
      if (policy === 'never') throw new TsstackError('NOT_FOUND', `image ${ref} not present`);
      return this.images.pull(ref);
    },
    pull: async (ref) => {
      this.journal.push(`pull ${ref}`);
      const r = this.registry.get(ref);
      if (!r) throw new TsstackError('IMAGE', `pull ${ref}: not found in registry`, { hint: 'check the image name' });
      this.imagesByRef.set(ref, r);
      return r;
    },
    push: async (ref) => {
      this.journal.push(`push ${ref}`);
      const have = this.imagesByRef.get(ref);
      if (!have) throw new TsstackError('NOT_FOUND', `image ${ref} not present`);
      this.registry.set(ref, have);
      return { digest: have.digest ?? have.id };
    },
    build: async (req: BuildRequest) => {
      this.journal.push(`build ${req.tags.join(',')}`);
      const info: ImageInfo = { id: `sha256:built${req.tags[0]}`, names: req.tags, config: { Cmd: ['sh'] }, chainIds: [], size: 1 };
      for (const t of req.tags) this.imagesByRef.set(t, info);
      return info;
    },
    remove: async (ref) => {
      this.imagesByRef.delete(ref);
    },
    prune: async () => ({ removedBlobs: 0, removedLayers: 0, reclaimed: 0 }),
    mountRootfs: async (_id, dir) => `${dir}/rootfs`,
    unmountRootfs: async () => {},
    tag: async (ref, name) => {
      const i = this.imagesByRef.get(ref);
      if (!i) throw new TsstackError('NOT_FOUND', `no such image: ${ref}`);
      this.imagesByRef.set(name, { ...i, names: [...i.names, name] });
    },
    importRootfs: async (_source, name) => {
      const info: ImageInfo = { id: `sha256:imported${name}`, names: [name], config: {}, chainIds: [], size: 1 };
      this.imagesByRef.set(name, info);
      return info;
    },
    loadArchive: async () => [],
    saveArchive: async (refs) => {
      for (const r of refs) if (!this.imagesByRef.has(r)) throw new TsstackError('NOT_FOUND', `no such image: ${r}`);
    },
  };

  networks: NetworkApi = {
    create: async (spec: NetworkCreateSpec) => {
      this.journal.push(`create-network ${spec.name}`);
      if (this.nets.has(spec.name)) throw new TsstackError('CONFLICT', `network ${spec.name} exists`);
      const n: NetworkInfo = { name: spec.name, id: `net${this.nets.size}`, bridge: `br${this.nets.size}`, subnet: spec.subnet ?? `10.99.${this.nets.size}.0/24`, gateway: '', internal: !!spec.internal, labels: spec.labels };
      this.nets.set(spec.name, n);
      return n;
    },
    inspect: async (name) => this.nets.get(name),
    list: async (filter) => {
      this.networkCalls++;
      return [...this.nets.values()].filter((n) => matches(n.labels, filter));
    },
    remove: async (name) => {
      this.journal.push(`remove-network ${name}`);
      this.nets.delete(name);
    },
    check: async (specs) => specs.filter((s) => s.subnet && this.badSubnets.has(s.subnet)).map((s) => `subnet ${s.subnet} of network ${s.name} overlaps a host route`),
    resync: async () => {
      this.journal.push('resync networks');
    },
    checkPorts: async (ports: PublishedPort[], except?: string) =>
      ports.filter((p) => this.busyPorts.has(p.hostPort) && this.busyPorts.get(p.hostPort) !== except).map((p) => `host port ${p.hostPort}/${p.protocol} is in use by ${this.busyPorts.get(p.hostPort)}`),
  };

  volumes: VolumeApi = {
    create: async (name, labels) => {
      this.journal.push(`create-volume ${name}`);
      const v: VolumeInfo = { name, mountpoint: `/fake/volumes/${name}/_data`, labels, created: now() };
      this.vols.set(name, v);
      return v;
    },
    inspect: async (name) => this.vols.get(name),
    list: async (filter) => [...this.vols.values()].filter((v) => matches(v.labels, filter)),
    remove: async (name) => {
      this.journal.push(`remove-volume ${name}`);
      this.vols.delete(name);
    },
  };

  private get(idOrName: string) {
    const c = this.ctrs.get(idOrName) ?? [...this.ctrs.values()].find((x) => x.name === idOrName);
    if (!c) throw new TsstackError('NOT_FOUND', `no such container: ${idOrName}`);
    return c;
  }

  containers: ContainerApi = {
    create: async (spec) => {
      this.journal.push(`create ${spec.name}`);
      if ([...this.ctrs.values()].some((c) => c.name === spec.name)) throw new TsstackError('CONFLICT', `container name ${spec.name} is taken`);
      if (!spec.imageId) throw new TsstackError('INTERNAL', `create ${spec.name}: no image id`);
      const id = `c${String(this.nextId++).padStart(3, '0')}`;
      const info = { id, name: spec.name, image: spec.image, imageId: spec.imageId, labels: { ...spec.labels }, status: 'created' as const, created: now(), restartCount: 0, addresses: {}, ports: spec.ports, spec };
      this.ctrs.set(id, info);
      return info;
    },
    start: async (id) => {
      const c = this.get(id);
      this.journal.push(`start ${c.name}`);
      const o = this.behaviour(c.spec);
      if (o.fail) throw new TsstackError('RUNTIME', `start ${c.name}: ${o.fail}`);
      c.status = o.status ?? 'running';
      // Addresses as a network engine reports them: one per endpoint.
      c.addresses = Object.fromEntries(c.spec.endpoints.map((ep, i) => [ep.network, `10.99.0.${i + 2}`]));
      c.exitCode = o.exitCode;
      c.health = o.health ?? (c.spec.healthcheck ? 'healthy' : undefined);
      c.startedAt = now();
    },
    stop: async (id) => {
      const c = this.get(id);
      this.journal.push(`stop ${c.name}`);
      if (c.status === 'running') {
        c.status = 'exited';
        c.exitCode = 0;
      }
    },
    kill: async (id, signal) => {
      const c = this.get(id);
      this.journal.push(`kill ${c.name} ${signal ?? 'SIGKILL'}`);
      c.status = 'exited';
      c.exitCode = 137;
    },
    remove: async (id, opts) => {
      const c = this.get(id);
      this.journal.push(`remove ${c.name}`);
      if (c.status === 'running' && !opts?.force) throw new TsstackError('CONFLICT', `container ${c.name} is running`);
      this.ctrs.delete(c.id);
    },
    inspect: async (idOrName) => {
      try {
        const { spec: _s, ...info } = this.get(idOrName);
        return { ...info };
      } catch {
        return undefined;
      }
    },
    list: async (filter) => [...this.ctrs.values()].filter((c) => matches(c.labels, filter)).map(({ spec: _s, ...info }) => ({ ...info })),
    logs: (id: string, _opts: LogOptions): AsyncIterable<LogLine> => {
      const c = this.get(id);
      return (async function* () {
        yield { time: now(), stream: 'stdout' as const, log: `hello from ${c.name}\n` };
      })();
    },
    output: (id: string): AsyncIterable<OutputChunk> => {
      const c = this.get(id);
      return (async function* () {
        yield { stream: 'stdout' as const, bytes: Buffer.from(`hello from ${c.name}\n`) };
      })();
    },
    exec: async (id: string, argv: string[], opts: ExecOptions) => {
      this.journal.push(`exec ${this.get(id).name} ${argv.join(' ')}`);
      this.execOptions.push(opts);
      return 0;
    },
    wait: async (id) => this.get(id).exitCode ?? 0,
    runAttached: async (id) => {
      this.journal.push(`attached ${this.get(id).name}`);
      await this.containers.start(id);
      return this.get(id).exitCode ?? 0;
    },
    top: async () => [{ pid: 1, cmd: 'sleep 1000' }],
    stats: async (): Promise<ContainerStats> => ({ cpuPercent: 0, memoryUsage: 1024, pids: 1, netRx: 0, netTx: 0 }),
    copy: async (id, from, to, dir) => {
      this.journal.push(`cp ${this.get(id).name} ${dir} ${from} ${to}`);
      return { skipped: [] };
    },
  };

  /** The engine's own host writes (real files: tests look at them where they asked for them). */
  host: HostApi = {
    makeBindSources: async (paths) => makeBindSources(paths),
    writeGeneratedFiles: async (files) => writeGeneratedFiles(files),
    forgetProject: async (project) => {
      this.forgotten.push(project);
    },
  };
  /** Projects whose files `down` asked the engine to forget. */
  forgotten: string[] = [];

  /** Changes with every container, network or volume change (what observing this engine reads). */
  async stateFingerprint(): Promise<StateFingerprint> {
    return { digest: JSON.stringify([[...this.ctrs.values()], [...this.nets.values()], [...this.vols.values()]]), pids: [], racy: false, racyForMs: 0 };
  }

  /** Nothing is ever left half made here. */
  async pendingChanges(): Promise<PendingChange[]> {
    return [];
  }

  async recover(): Promise<RecoveryReport> {
    return { done: [], problems: [] };
  }

  async close(): Promise<void> {}
}
