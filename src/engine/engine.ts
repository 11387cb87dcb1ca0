// openEngine(): composes the engine's parts (image store, network manager, DNS
// service, containers, volumes) behind the api.ts Engine seam.
//
// The composition is static and typed; only the loading is lazy: each part's
// module is imported (`await import`, typed by its `import type`) and the part
// constructed on its first call, so a command that needs one part (e.g.
// `image ls`) loads only that one, and `ps` never loads the network manager.
// The two big parts get their kernel drivers here (network/kernel-drivers.ts:
// firewall, links, sandbox, socket programs, host ports; runtime/kernel-drivers.ts:
// bundle, monitor, attach, hooks, runtime); the unit tests give them fakes instead.

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TsstackError } from '../util/errors.js';
import type { ContainerApi, Engine, Fault, HealthApi, HostApi, ImageApi, NetworkApi, StateFingerprint, VolumeApi } from './api.js';
import type { DnsService } from './dns/service.js';
import type { ImageStore } from './image/store.js';
import type { NetworkManager } from './network/manager.js';
import type { Containers } from './runtime/containers.js';
import type { DnsListen, SandboxProvider } from './runtime/deps.js';
import { secureEngineDirs } from './host-dirs.js';

export interface EngineOptions {
  /** Persistent state (default `/var/lib/tsstack`). */
  root: string;
  /** State that dies with the boot (default `/run/tsstack`). */
  runRoot: string;
  /** OCI runtime binary: `tsstack-runtime` (default), `runc`, `crun`, or a path. */
  runtime?: string;
  /** Where problems that do not fail a call are reported (default: stderr). */
  warn?: (message: string) => void;
}

export const DEFAULT_ROOT = '/var/lib/tsstack';
export const DEFAULT_RUN_ROOT = '/run/tsstack';

/** Root and run root from flags, then the environment, then the defaults. */
export function enginePaths(flags: { root?: string; runRoot?: string }, env: NodeJS.ProcessEnv = process.env): { root: string; runRoot: string } {
  return {
    root: flags.root ?? env.TSSTACK_ROOT ?? DEFAULT_ROOT,
    runRoot: flags.runRoot ?? env.TSSTACK_RUN_ROOT ?? DEFAULT_RUN_ROOT,
  };
}

/**
 * The engine's state fingerprint (api.ts `Engine.stateFingerprint`) without opening it: the no-op
 * `up -d` path (cli/converged.ts) asks with it before anything else is loaded.
 */
export async function stateFingerprintOf(paths: { root: string; runRoot: string }, opts?: { pids?: number[]; stamps?: 'fine' | 'coarse' }): Promise<StateFingerprint> {
  return (await import('./fingerprint.js')).stateFingerprint(paths.root, paths.runRoot, opts);
}

/** A part made on first use (one construction even when first used by concurrent calls). */
interface Lazy<T> {
  get(): Promise<T>;
  /** The part if it was made (what close() has to close). */
  loaded(): T | undefined;
}

function lazy<T>(make: () => Promise<T>): Lazy<T> {
  let inst: T | undefined;
  let pending: Promise<T> | undefined;
  return {
    get: () => (pending ??= make().then((x) => (inst = x))),
    loaded: () => inst,
  };
}

/** ImageApi over the image store, loaded on the first call; a build the build memo answers loads no store. */
function imagesOf(p: Lazy<ImageStore>, root: string): ImageApi {
  const s = () => p.get();
  return {
    inspect: async (ref) => (await s()).inspect(ref),
    list: async () => (await s()).list(),
    ensure: async (ref, policy, onProgress) => (await s()).ensure(ref, policy, onProgress),
    pull: async (ref, onProgress) => (await s()).pull(ref, onProgress),
    push: async (ref, onProgress) => (await s()).push(ref, onProgress),
    build: async (req) => (await (await import('./image/build/memo.js')).lookupMemo(root, req, s)) ?? (await s()).build(req),
    remove: async (ref, o) => (await s()).remove(ref, o),
    prune: async () => (await s()).prune(),
    mountRootfs: async (imageId, dir) => (await s()).mountRootfs(imageId, dir),
    unmountRootfs: async (dir) => (await s()).unmountRootfs(dir),
    tag: async (ref, name) => (await s()).tag(ref, name),
    importRootfs: async (source, name, o) => (await s()).importRootfs(source, name, o),
    loadArchive: async (path, onProgress) => (await s()).loadArchive(path, onProgress),
    saveArchive: async (refs, path) => (await s()).saveArchive(refs, path),
  };
}

/** VolumeApi over the volume store, loaded on the first call. */
function volumesOf(p: Lazy<VolumeApi>): VolumeApi {
  const v = () => p.get();
  return {
    create: async (name, labels) => (await v()).create(name, labels),
    inspect: async (name) => (await v()).inspect(name),
    list: async (filter) => (await v()).list(filter),
    remove: async (name) => (await v()).remove(name),
  };
}

/** NetworkApi over the network manager, loaded on the first call. */
function networksOf(p: Lazy<NetworkManager>): NetworkApi {
  const m = () => p.get();
  return {
    create: async (spec) => (await m()).create(spec),
    inspect: async (name) => (await m()).inspect(name),
    list: async (filter) => (await m()).list(filter),
    remove: async (name) => (await m()).remove(name),
    check: async (specs) => (await m()).check(specs),
    checkPorts: async (ports, except) => (await m()).checkPorts(ports, except),
    resync: async (bridges) => (await m()).resync(bridges),
  };
}

/** What the containers' part needs of the network manager (runtime/deps.ts), loaded on the first call. */
function sandboxesOf(p: Lazy<NetworkManager>, gateways: () => Promise<Record<string, DnsListen>>): SandboxProvider {
  const m = () => p.get();
  return {
    createSandbox: async (id) => (await m()).createSandbox(id),
    connect: async (id, endpoint) => (await m()).connect(id, endpoint),
    disconnect: async (id, network) => (await m()).disconnect(id, network),
    removeSandbox: async (id) => (await m()).removeSandbox(id),
    publish: async (id, address, ports) => (await m()).publish(id, address, ports),
    unpublish: async (id) => (await m()).unpublish(id),
    gateways,
    networkChanges: async () => (await m()).networkChanges(),
  };
}

/** ContainerApi over the containers' part, loaded on the first call. */
function containersOf(p: Lazy<Containers>): ContainerApi {
  const c = () => p.get();
  return {
    create: async (spec, opts) => (await c()).create(spec, opts),
    start: async (id) => (await c()).start(id),
    stop: async (id, timeoutMs) => (await c()).stop(id, timeoutMs),
    kill: async (id, signal) => (await c()).kill(id, signal),
    remove: async (id, o) => (await c()).remove(id, o),
    inspect: async (idOrName) => (await c()).inspect(idOrName),
    list: async (filter) => (await c()).list(filter),
    // an async iterable, not a promise: the part is loaded when the reading begins
    logs: (id, o) => ({
      async *[Symbol.asyncIterator]() {
        yield* (await c()).logs(id, o);
      },
    }),
    output: (id, o) => ({
      async *[Symbol.asyncIterator]() {
        yield* (await c()).output(id, o);
      },
    }),
    exec: async (id, argv, o) => (await c()).exec(id, argv, o),
    wait: async (id) => (await c()).wait(id),
    runAttached: async (id) => (await c()).runAttached(id),
    top: async (id) => (await c()).top(id),
    stats: async (id) => (await c()).stats(id),
    copy: async (id, from, to, direction, o) => (await c()).copy(id, from, to, direction, o),
  };
}

export async function openEngine(opts: EngineOptions): Promise<Engine> {
  const { root, runRoot } = opts;
  // 0700, owned by root, nothing on the way another user can change (host-dirs.ts)
  secureEngineDirs({ root, runRoot });
  const volumes = volumesOf(lazy(async () => new (await import('./volumes.js')).Volumes(root)));

  // One DNS service for the containers' part, health and close().
  let dnsInst: DnsService | undefined;
  const dnsService = async (): Promise<DnsService> => {
    const { DnsService } = await import('./dns/service.js');
    return (dnsInst ??= new DnsService({ runRoot }));
  };

  const networkPart = lazy(async () => {
    const [{ NetworkManager }, { kernelDrivers }] = await Promise.all([import('./network/manager.js'), import('./network/kernel-drivers.js')]);
    return new NetworkManager({ root, runRoot, drivers: kernelDrivers(root) });
  });
  const networks = networksOf(networkPart);
  // Where the DNS server listens, per network: `internal` networks are marked so that names which are
  // not local are refused there, never forwarded (a container on an internal network has no way out).
  const listenOn = (nets: { name: string; gateway: string; internal?: boolean }[]): Record<string, DnsListen> =>
    Object.fromEntries(nets.map((n) => [n.name, n.internal ? { gateway: n.gateway, internal: true } : n.gateway]));
  const gateways = async (): Promise<Record<string, DnsListen>> => listenOn(await networks.list());

  // containers and images refer to each other (inUse, mountRootfs): both through their lazy facades
  let containers: ContainerApi;
  const imagePart = lazy(async () => {
    const { ImageStore } = await import('./image/store.js');
    return new ImageStore({
      root,
      runRoot,
      inUse: async () => new Set((await containers.list().catch(() => [])).map((c) => c.imageId)),
      // prune keeps what the build cache points at
      keep: async () => (await import('./image/build/index.js')).buildCacheKeepSet(root),
    });
  });
  const images = imagesOf(imagePart, root);
  const containerPart = lazy(async () => {
    const [{ Containers }, { kernelContainerDrivers }] = await Promise.all([import('./runtime/containers.js'), import('./runtime/kernel-drivers.js')]);
    const dns = await dnsService();
    return new Containers({ root, runRoot, runtime: opts.runtime, images, network: sandboxesOf(networkPart, gateways), dns, volumes, warn: opts.warn, drivers: kernelContainerDrivers });
  });
  containers = containersOf(containerPart);

  // Health: cheap looks at the real state behind the records (a pid, a link dump, one table listing)
  // and their repair. The light modules only: the network manager is loaded when there is something to repair.
  const health: HealthApi = {
    async check(nets, o) {
      const out: Fault[] = [];
      if (nets.length) {
        const [{ networkFaults }, { NetworkStore }, { tableFor }] = await Promise.all([import('./network/health.js'), import('./network/state.js'), import('./network/table-name.js')]);
        out.push(...await networkFaults({ store: new NetworkStore(root), runRoot, table: tableFor(root) }, nets));
      }
      if (o.dns && !(await dnsService()).isRunning()) out.push({ resource: 'dns', cause: 'server not running' });
      return out;
    },
    async repair(faults) {
      const names = faults.filter((f) => f.resource.startsWith('network:')).map((f) => f.resource.slice('network:'.length));
      if (names.length || faults.some((f) => f.resource === 'firewall')) await (await networkPart.get()).repair(names);
      if (faults.some((f) => f.resource === 'dns')) await (await dnsService()).ensureRunning(await gateways());
    },
  };

  const host: HostApi = {
    makeBindSources: async (paths) => (await import('./host-files.js')).makeBindSources(paths),
    writeGeneratedFiles: async (files) => (await import('./host-files.js')).writeGeneratedFiles(files),
    forgetProject: async (project) => {
      // normalized names only (model/project-name.ts): nothing outside projects/ is ever named
      if (!/^[a-z0-9][a-z0-9_-]*$/.test(project)) throw new TsstackError('USAGE', `invalid project name ${JSON.stringify(project)}`);
      const dir = projectDir(root, project);
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true }); // (rmSync throws inside for an absent one)
    },
  };

  /**
   * Tells the DNS service which networks are left in this namespace (but `going`), which stops its server when
   * no container and none of them is left. The networks from their records and one link dump (the light
   * modules: no network manager to load); one whose bridge lives in another namespace has its own server
   * there and keeps none here. Unreadable records: the server is kept (a later command knows better than
   * stopping it blind). Never rejects.
   */
  const closeDns = async (going = new Set<string>()): Promise<void> => {
    const dns = dnsInst ?? (networkPart.loaded() ? await dnsService().catch(() => undefined) : undefined);
    if (!dns) return;
    const nets = await Promise.all([import('./network/state.js'), import('./network/health.js')]).then(([{ NetworkStore }, { dumpLinks }]) => {
      const all = new NetworkStore(root).list().filter((n) => !going.has(n.name));
      const here = all.length ? new Set(dumpLinks().map((l) => l.name)) : new Set<string>();
      return listenOn(all.filter((n) => here.has(n.bridge)));
    }).catch(() => undefined);
    if (nets) await dns.close(nets).catch(() => {});
  };
  let earlyDns: Promise<void> | undefined;
  // The DNS server hears that a network goes as its removal begins (a `down`'s networks go once its
  // containers are gone): with no container left to answer for and no other network here, it stops
  // while the network's records and table go and its bridge's deletion ends, not at close() with
  // nothing else to overlap its exit. (Not sooner: the removals' own DNS calls would queue behind it.)
  const removeNetwork = networks.remove;
  networks.remove = async (name) => {
    const removed = removeNetwork(name);
    earlyDns = Promise.all([earlyDns, closeDns(new Set([name]))]).then(() => undefined);
    await removed;
  };

  const engine: Engine = {
    root,
    runRoot,
    images,
    networks,
    volumes,
    containers,
    health,
    host,
    stateFingerprint: (o) => stateFingerprintOf({ root, runRoot }, o),
    async pendingChanges(project) {
      const { listIntents, projectIntent } = await import('./intents.js');
      if (!projectIntent(root, project)) return [];
      const { pidAlive } = await import('../util/fs-atomic.js');
      return listIntents(root).filter((i) => i.project === project).map((i) => ({ kind: i.kind, op: i.op, name: i.name, dead: !pidAlive(i.pid) }));
    },
    recover: async (project) => (await import('./recovery.js')).recover(engine, project),
    async prepareRemoval(project, ids, nets) {
      // the removals' own intents, written before any link goes (each removal writes it again, then ends it)
      const { beginIntent } = await import('./intents.js');
      for (const id of ids) beginIntent(root, { kind: 'container', op: 'remove', name: id, project });
      return (await networkPart.get()).prepareRemoval(ids, nets);
    },
    async close() {
      // DNS first: with no container and no network left it stops its server; then the
      // network manager's sockets and workers, so the process can exit. Parts never
      // loaded have nothing to close. `down` may remove the last network without
      // touching a container: the DNS service must still hear which networks are left.
      await earlyDns;
      await closeDns();
      await networkPart.loaded()?.close().catch(() => {});
    },
  };
  return engine;
}

/** Where per-project generated files (configs/secrets from content) live. */
export function projectDir(root: string, project: string): string {
  return join(root, 'projects', project);
}
