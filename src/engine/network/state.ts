// The network engine's on-disk state under `<root>/networks/`:
//   <name>.json   one network: its subnet, bridge and address leases
//   .ports.json   published host ports, per container
// and the flock held while state and kernel objects change is <root>/locks/network.lock.
// Network names cannot start with a dot, so the files never collide.

import { existsSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeJsonAtomic, writeJsonAtomicSync } from '../../util/fs-atomic.js';
import { TsstackError } from '../../util/errors.js';
import { withLockFile } from '../store/lock.js';
import type { NetworkInfo, PortBinding } from '../api.js';
import { sortKeysDeep } from '../../util/canonical-json.js';
import { byCodeUnits } from '../../util/compare.js';

export interface EndpointRecord {
  address: string;
  prefixLen: number;
  mac: string;
  /** Name inside the sandbox: eth0, eth1… */
  ifname: string;
  /** The veth end on the bridge. */
  hostIfname: string;
  aliases: string[];
  /** This endpoint carries the sandbox's default route. */
  defaultRoute: boolean;
}

/** What the engine reports of a network, plus what it keeps to manage it. */
export interface NetworkRecord extends NetworkInfo {
  created: string;
  /** containerId → lease. */
  endpoints: Record<string, EndpointRecord>;
}

/** A published port in `.ports.json`: the binding and the container that holds it (the file's shape is unchanged since the first release). */
export interface PortRecord extends PortBinding {
  containerId: string;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function checkNetworkName(name: string): void {
  if (!NAME.test(name) || name.length > 200) {
    throw new TsstackError('NETWORK', `invalid network name "${name}"`, { hint: 'use letters, digits, "_", "." and "-", starting with a letter or digit' });
  }
}


export class NetworkStore {
  readonly dir: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(root: string) {
    this.dir = join(root, 'networks');
  }

  list(): NetworkRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as NetworkRecord);
  }

  get(name: string): NetworkRecord | undefined {
    const path = join(this.dir, `${name}.json`);
    if (!existsSync(path)) return undefined; // (a failed read throws, ~25 us: plans ask for networks yet to be made)
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as NetworkRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  put(rec: NetworkRecord): void {
    checkNetworkName(rec.name);
    writeJsonAtomicSync(join(this.dir, `${rec.name}.json`), sortKeysDeep(rec));
  }

  /** put() as a promise (fs-atomic.ts writeFileAtomic: its fsyncs on the thread pool only where they prove slow). */
  commit(rec: NetworkRecord): Promise<void> {
    checkNetworkName(rec.name);
    return writeJsonAtomic(join(this.dir, `${rec.name}.json`), sortKeysDeep(rec));
  }

  delete(name: string): void {
    try {
      unlinkSync(join(this.dir, `${name}.json`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  ports(): PortRecord[] {
    const path = join(this.dir, '.ports.json');
    if (!existsSync(path)) return []; // (most projects publish no port)
    try {
      return (JSON.parse(readFileSync(path, 'utf8')) as { ports: PortRecord[] }).ports;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  putPorts(ports: PortRecord[]): void {
    const path = join(this.dir, '.ports.json');
    if (ports.length === 0) {
      try {
        unlinkSync(path);
      } catch { /* already gone */ }
      return;
    }
    const sorted = [...ports].sort((a, b) => byCodeUnits(`${a.hostIp ?? ''}|${a.protocol}|${a.hostPort}`, `${b.hostIp ?? ''}|${b.protocol}|${b.hostPort}`));
    writeJsonAtomicSync(path, sortKeysDeep({ ports: sorted }));
  }

  /**
   * Runs `fn` holding the engine's network lock: one caller at a time within this
   * process (promise chain) and across processes (flock on `<root>/locks/network.lock`, polled so the
   * event loop never blocks).
   */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => this.locked(fn));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    // In the engine's private lock directory (store/lock.ts), not here: a file any user can open is a lock any user can hold.
    return withLockFile(join(dirname(this.dir), 'locks', 'network.lock'), { timeoutMs: 60_000, pollMs: 20, label: `the network state of ${dirname(this.dir)}` }, fn);
  }

}
