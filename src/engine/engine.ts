// openEngine(): composes the engine's parts (image store, network manager, DNS
// service, containers, volumes) behind the api.ts Engine seam.
//
// Each part is imported lazily, so a command that needs only one part (e.g.
// `image ls`) loads only that one, and a part that is missing or fails to load
// surfaces as a clear HOST error ("… not available") when it is first used,
// not as a crash at start-up.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TsstackError } from '../util/errors.js';
import type { ContainerApi, Engine, Fault, HealthApi, ImageApi, NetworkApi, VolumeApi } from './api.js';
import { secureEngineDirs } from './host-dirs.js';
import { Volumes } from './volumes.js';

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

type Ctor = new (...args: any[]) => any;

/** Loads `exportName` from a module of another engine part; undefined if it is not there (yet). */
async function load(modulePath: string, exportName: string): Promise<Ctor | undefined> {
  try {
    const m = (await import(modulePath)) as Record<string, unknown>;
    return (m[exportName] as Ctor | undefined) ?? undefined;
  } catch (e) {
    // The part (or a file it needs) has not landed: "not available". Anything
    // else (a syntax error, a throw at load) is a bug and surfaces as such.
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

function unavailable(part: string, cause?: unknown): never {
  throw new TsstackError('HOST', `${part} is not available yet in this build of tsstack`, {
    hint: 'this part of the engine has not landed; commands that need it cannot run',
    cause,
  });
}

/** Calls `obj[method]` if it exists (for optional lifecycle hooks such as close()). */
async function maybe(obj: unknown, method: string): Promise<void> {
  const f = (obj as Record<string, unknown> | undefined)?.[method];
  if (typeof f === 'function') await (f as () => unknown).call(obj);
}

/**
 * A part that is imported and constructed on its first method call, so a
 * command pays only for the parts it uses. Every method of the api.ts parts is
 * async except `containers.logs`, which returns an async iterable (handled).
 */
function lazyPart<T extends object>(make: () => Promise<T>): { proxy: T; loaded: () => T | undefined } {
  let inst: T | undefined;
  let pending: Promise<T> | undefined;
  const get = () => (pending ??= make().then((x) => (inst = x)));
  const proxy = new Proxy({} as T, {
    get: (_t, prop) => {
      if (prop === 'then') return undefined;
      if (prop === 'logs') {
        return (...args: unknown[]) => ({
          async *[Symbol.asyncIterator]() {
            const x = (await get()) as Record<string, (...a: unknown[]) => AsyncIterable<unknown>>;
            yield* x.logs(...args);
          },
        });
      }
      return async (...args: unknown[]) => {
        const x = (await get()) as Record<string | symbol, unknown>;
        const f = x[prop];
        if (typeof f !== 'function') throw new TsstackError('INTERNAL', `engine part has no method ${String(prop)}`);
        return (f as (...a: unknown[]) => unknown).apply(x, args);
      };
    },
  });
  return { proxy, loaded: () => inst };
}

async function need(modulePath: string, exportName: string, part: string): Promise<Ctor> {
  const C = await load(modulePath, exportName);
  if (!C) unavailable(part);
  return C;
}

export async function openEngine(opts: EngineOptions): Promise<Engine> {
  const { root, runRoot } = opts;
  // 0700, owned by root, nothing on the way another user can change (host-dirs.ts)
  secureEngineDirs({ root, runRoot });
  const volumes: VolumeApi = new Volumes(root);

  let dns: unknown;
  const imagesPart = lazyPart<ImageApi>(async () => {
    const ImageStore = await need('./image/store.js', 'ImageStore', 'the image store');
    return new ImageStore({
      root,
      runRoot,
      inUse: async () => new Set((await containersPart.proxy.list().catch(() => [])).map((c) => c.imageId)),
      // prune keeps what the build cache points at
      keep: async () => {
        const keepSet = (await import('./image/build/index.js').catch(() => undefined))?.buildCacheKeepSet as ((r: string) => unknown) | undefined;
        return keepSet ? await keepSet(root) : {};
      },
    }) as ImageApi;
  });
  const networksPart = lazyPart<NetworkApi>(async () => {
    const NetworkManager = await need('./network/manager.js', 'NetworkManager', 'the network manager');
    return new NetworkManager({ root, runRoot }) as NetworkApi;
  });
  // Where the DNS server listens, per network: `internal` networks are marked so that names which are
  // not local are refused there, never forwarded (a container on an internal network has no way out).
  const gateways = async () => Object.fromEntries((await networksPart.proxy.list()).map((n) => [n.name, n.internal ? { gateway: n.gateway, internal: true } : n.gateway]));
  const containersPart = lazyPart<ContainerApi>(async () => {
    const Containers = await need('./runtime/containers.js', 'Containers', 'the container runtime layer');
    const DnsService = await load('./dns/service.js', 'DnsService');
    // The DNS service is given as is (its renderers are synchronous); images and
    // networks stay lazy (Containers calls only their async methods).
    dns ??= DnsService ? new DnsService({ runRoot }) : undefined;
    const haveNetwork = existsSync(new URL('./network/manager.js', import.meta.url));
    const network = new Proxy(networksPart.proxy, { get: (t, prop) => (prop === 'gateways' ? gateways : (t as unknown as Record<string | symbol, unknown>)[prop]) });
    return new Containers({ root, runRoot, runtime: opts.runtime, images: imagesPart.proxy, network: haveNetwork ? network : undefined, dns, volumes, warn: opts.warn }) as ContainerApi;
  });

  // Health: cheap looks at the real state behind the records (a pid, a link dump, one table listing)
  // and their repair. The DNS service of the containers' part when loaded, else one of its own.
  const dnsService = async (): Promise<{ isRunning(): boolean; ensureRunning(l: unknown): Promise<unknown> } | undefined> => {
    if (dns) return dns as never;
    const DnsService = await load('./dns/service.js', 'DnsService');
    return DnsService ? (dns ??= new DnsService({ runRoot })) as never : undefined;
  };
  const net = networksPart.proxy as NetworkApi & { repair(n: string[]): Promise<void> };
  const health: HealthApi = {
    async check(networks, o) {
      const out: Fault[] = [];
      if (networks.length) {
        // the light modules only: the network manager is loaded when there is something to repair
        const [{ networkFaults }, { NetworkStore }, { tableFor }] = await Promise.all([import('./network/health.js'), import('./network/state.js'), import('./network/table-name.js')]);
        out.push(...await networkFaults({ store: new NetworkStore(root), runRoot, table: tableFor(root) }, networks));
      }
      if (o.dns && !(await dnsService())?.isRunning()) out.push({ resource: 'dns', cause: 'server not running' });
      return out;
    },
    async repair(faults) {
      const nets = faults.filter((f) => f.resource.startsWith('network:')).map((f) => f.resource.slice('network:'.length));
      if (nets.length || faults.some((f) => f.resource === 'firewall')) await net.repair(nets);
      if (faults.some((f) => f.resource === 'dns')) {
        await (await dnsService())?.ensureRunning(await gateways());
      }
    },
  };

  return {
    root,
    runRoot,
    images: imagesPart.proxy,
    networks: networksPart.proxy,
    volumes,
    containers: containersPart.proxy,
    health,
    async close() {
      // DNS first: with no container left it stops its server; then the network
      // manager's sockets and workers, so the process can exit. Parts never
      // loaded have nothing to close.
      let netDns = dns;
      if (!netDns && networksPart.loaded()) {
        // `down` may remove the last network without touching a container: the DNS
        // service must still hear that nothing is left to answer for.
        const DnsService = await load('./dns/service.js', 'DnsService');
        netDns = DnsService ? new DnsService({ runRoot }) : undefined;
      }
      for (const part of [netDns, networksPart.loaded(), containersPart.loaded(), imagesPart.loaded()]) {
        if (part) await maybe(part, 'close').catch(() => {});
      }
    },
  };
}

/** Where per-project generated files (configs/secrets from content) live. */
export function projectDir(root: string, project: string): string {
  return join(root, 'projects', project);
}
