// The network of RUN steps. As Docker's builds do, a RUN gets a network
// namespace of its own: `default` is a sandbox on a bridge network made for
// this build (outbound NAT through the engine's network manager, the host's
// resolvers in its resolv.conf), `none` a namespace with loopback only, and
// `host` the builder's own network, only when asked (RUN --network=host or the
// stack file's build.network: host), with a warning. One sandbox serves every
// RUN of a build, as BuildKit pools its namespaces (a step has no NET_ADMIN to
// leave state in it, and its processes end with it); the sandbox and the
// build network go when the build ends, those of a killed build with the next
// build's cleanup.

import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkManager } from '../../network/index.js';
import { renderHostsFile, resolvConfFromHost } from '../../runtime/etc-files.js';

export type RunNetworkMode = 'default' | 'host' | 'none';

export const RUN_NETWORK_MODES: readonly RunNetworkMode[] = ['default', 'host', 'none'];

/** Label on a build network: the pid of the build that made it. */
const LABEL_PID = 'tsstack.build.pid';
const ID_PREFIX = 'tsstack-build-';

/** Where a RUN's network comes from: a namespace path, the host's, or a new empty one. */
export type RunNamespace = { path: string } | 'host' | 'new';

export interface RunNetwork {
  namespace: RunNamespace;
  /** /etc/resolv.conf and /etc/hosts for the step (file contents; undefined = the host's files). */
  resolvConf?: string;
  hosts?: string;
  release(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export class BuildNetworks {
  private manager?: Promise<NetworkManager>;
  private network?: Promise<string>;
  private sandbox?: Promise<{ id: string; path: string }>;

  constructor(private readonly root: string, private readonly runRoot: string) {}

  /** A step id that also names its sandbox; it carries the build's pid for stale cleanup. */
  static stepId(): string {
    return `${ID_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`;
  }

  private mgr(): Promise<NetworkManager> {
    this.manager ??= import('../../network/index.js').then(({ NetworkManager }) => new NetworkManager({ root: this.root, runRoot: this.runRoot }));
    return this.manager;
  }

  /** This build's network, made on first use (stale ones of dead builds removed first). */
  private ensureNetwork(): Promise<string> {
    this.network ??= (async () => {
      const m = await this.mgr();
      await this.removeStale(m);
      const name = `${ID_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
      await m.create({ name, labels: { [LABEL_PID]: String(process.pid) } });
      return name;
    })();
    return this.network;
  }

  /** Sandboxes and networks left by builds whose process is gone. */
  private async removeStale(m: NetworkManager): Promise<void> {
    const dead = (name: string): boolean => {
      const x = new RegExp(`^${ID_PREFIX}(\\d+)-`).exec(name);
      return x !== null && Number(x[1]) !== process.pid && !pidAlive(Number(x[1]));
    };
    const netns = join(this.runRoot, 'netns');
    for (const id of existsSync(netns) ? readdirSync(netns).filter(dead) : []) await m.removeSandbox(id).catch(() => undefined);
    for (const n of await m.list()) {
      const pid = Number(n.labels[LABEL_PID]);
      if (pid && pid !== process.pid && !pidAlive(pid)) await m.remove(n.name).catch(() => undefined);
    }
  }

  /** The build's sandbox on its network, made on first use. */
  private ensureSandbox(): Promise<{ id: string; path: string }> {
    this.sandbox ??= (async () => {
      const network = await this.ensureNetwork();
      const m = await this.mgr();
      const id = BuildNetworks.stepId();
      const { path } = await m.createSandbox(id);
      try {
        await m.connect(id, { network, aliases: [] });
      } catch (e) {
        await m.removeSandbox(id).catch(() => undefined);
        throw e;
      }
      return { id, path };
    })();
    return this.sandbox;
  }

  /** The network a RUN step runs in, set up; `release` gives it back. */
  async forStep(mode: RunNetworkMode): Promise<RunNetwork> {
    if (mode === 'host') return { namespace: 'host', release: async () => undefined };
    const hosts = renderHostsFile([]);
    if (mode === 'none') return { namespace: 'new', hosts, release: async () => undefined };
    const { path } = await this.ensureSandbox();
    let hostResolv = '';
    try { hostResolv = readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none: the defaults */ }
    return { namespace: { path }, resolvConf: resolvConfFromHost(hostResolv), hosts, release: async () => undefined };
  }

  /** Removes this build's sandbox and network and lets go of the manager. */
  async close(): Promise<void> {
    if (!this.manager) return;
    const m = await this.manager;
    try {
      const sb = await this.sandbox?.catch(() => undefined);
      if (sb) await m.removeSandbox(sb.id);
      const name = await this.network?.catch(() => undefined);
      if (name) await m.remove(name);
    } finally { await m.close(); }
  }
}
