// The real network drivers (drivers.ts): libnftables, rtnetlink, pinned namespaces (ns-enter.ts),
// /proc. Thin: every decision stays in NetworkManager.

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { RtNetlinkSocket } from './rtnl.js';
import { TsstackError } from '../../util/errors.js';
import { Nft } from './nft.js';
import { type DnatTarget, forgetDnat } from './conntrack.js';
import { ensureSysctl, hostResolvers, hostRoutes, mountPoints } from './host.js';
import { MNT_DETACH, MS_BIND, MS_REC, MS_SHARED, getLibc, lastErrno } from './libc.js';
import { type NsInspect, configureNamespace, createNamespace, inspectNamespace, namespaceSysctl } from './ns-enter.js';
import { readListeners, socketOwners } from './ports.js';
import { addAddress, createBridge, createVeth, listAddresses, openRtnl, rtnlFailed, linkSummary, setHairpin, setMaster, setUp, type LinkSummary } from './rtnl.js';
import { deleteLink as rawDelete, deleteLinksAsGroupAsync as rawDeleteGroup, dumpLinks, linkNamed } from './raw-rtnl.js';
import { SocketLb, socketLbCgroup } from './socket-lb.js';
import { rootTag } from './table-name.js';
import type { AddressSummary, Firewall, HostPorts, Links, NetworkDrivers, Sandbox } from './drivers.js';
import type { Taken } from './ipam.js';

export class NftFirewall extends Nft implements Firewall {
  forget(targets: DnatTarget[]): Promise<number> {
    return forgetDnat(targets);
  }
}

/** Reopens a socket whose receive failed (rtnl.ts openRtnl). */
function fresh(s: RtNetlinkSocket | undefined): RtNetlinkSocket {
  if (s && rtnlFailed(s)) {
    s.close();
    s = undefined;
  }
  return s ?? openRtnl();
}

export class RtnlLinks implements Links {
  private sock?: RtNetlinkSocket;

  private rt(): RtNetlinkSocket {
    return (this.sock = fresh(this.sock));
  }

  // reading and deleting links goes over raw-rtnl.ts: removal (down, rm) never loads the netlink package
  async list(): Promise<LinkSummary[]> {
    return dumpLinks().map(linkSummary).sort((a, b) => a.index - b.index);
  }
  async byName(name: string): Promise<LinkSummary | undefined> {
    const l = linkNamed(name);
    return l && linkSummary(l);
  }
  addresses(): Promise<AddressSummary[]> { return listAddresses(this.rt()); }
  createBridge(name: string, mac: string) { return createBridge(this.rt(), name, mac); }
  async createVeth(hostName: string, peerName: string, peerMac: string, sandboxPath: string, master: number): Promise<void> {
    const fd = openSync(sandboxPath, 'r');
    try {
      await createVeth(this.rt(), hostName, peerName, peerMac, fd, master);
    } finally {
      closeSync(fd);
    }
  }
  addAddress(index: number, address: string, prefixLen: number, broadcast?: string) { return addAddress(this.rt(), index, address, prefixLen, broadcast); }
  setUp(index: number) { return setUp(this.rt(), index); }
  setHairpin(index: number) { return setHairpin(this.rt(), index); }
  setMaster(index: number, master: number) { return setMaster(this.rt(), index, master); }
  async delete(index: number): Promise<void> { rawDelete(index); }
  deleteGroup(indices: number[], group: number): Promise<void> { return rawDeleteGroup(indices, group); }
  async names(): Promise<Set<string>> { return new Set(dumpLinks().map((l) => l.name)); }
  async hostTaken(ours: Set<string>): Promise<Taken[]> {
    return [...(await hostRoutes(this.rt(), ours)), ...hostResolvers()];
  }
  sysctl(key: string, value: string): void {
    ensureSysctl(key, value);
  }
  close(): void {
    this.sock?.close();
    this.sock = undefined;
  }
}

/** statfs f_type of nsfs (linux/magic.h): what a pinned namespace's bind mount shows. */
const NSFS_MAGIC = 0x6e736673;

export class NetnsSandbox implements Sandbox {
  pinned(): Set<string> {
    return mountPoints();
  }

  /**
   * A pinned namespace is an nsfs file bind-mounted at `path`: statfs says so without reading
   * /proc/self/mountinfo, which grows with every container's mounts (read once per container, it made
   * `up` of N containers cost N² lines of it).
   */
  isPinned(path: string): boolean {
    try {
      // (looked for first: a sandbox about to be made is absent, and a failed statfsSync throws, ~25 us)
      return existsSync(path) && statfsSync(path).type === NSFS_MAGIC;
    } catch {
      return false;
    }
  }

  /**
   * `dir` as a shared mount of its own (as `ip netns` does): mount namespaces made later for
   * containers receive the unmount of a sandbox, so a removed sandbox is not kept alive by their
   * copies of its bind mount.
   */
  prepareDir(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // the pinned namespaces are root's alone
    // A sandbox pinned in it means the directory is a mount of its own already: sandboxes are pinned only
    // after this, and releaseDir unmounts it only when empty. Cheaper than mountinfo (see isPinned).
    if (this.holdsPinned(dir) || mountPoints().has(dir)) return;
    const libc = getLibc();
    if (libc.mount(dir, dir, null, MS_BIND | MS_REC, null) < 0) throw new TsstackError('NETWORK', `could not bind-mount ${dir} on itself: ${lastErrno().name}`, { hint: 'tsstack needs root to manage network sandboxes' });
    if (libc.mount(null, dir, null, MS_SHARED | MS_REC, null) < 0) throw new TsstackError('NETWORK', `could not make ${dir} a shared mount: ${lastErrno().name}`);
  }

  private holdsPinned(dir: string): boolean {
    try {
      for (const n of readdirSync(dir)) if (this.isPinned(join(dir, n))) return true;
    } catch { /* not there */ }
    return false;
  }

  releaseDir(dir: string, failures: string[]): void {
    try {
      if (!mountPoints().has(dir) || readdirSync(dir).length > 0) return;
      if (getLibc().umount2(dir, MNT_DETACH) < 0) failures.push(`umount ${dir}: ${lastErrno().name}`);
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e));
    }
  }

  async create(path: string): Promise<void> {
    closeSync(openSync(path, 'a'));
    try {
      await createNamespace(path);
    } catch (e) {
      rmSync(path, { force: true });
      throw e;
    }
  }

  unpin(path: string): { pinned: boolean; failures: string[] } {
    const out = { pinned: false, failures: [] as string[] };
    // no mountinfo scan: EINVAL (not a mount point) and ENOENT say there is no pin
    if (getLibc().umount2(path, MNT_DETACH) === 0) out.pinned = true;
    else {
      const err = lastErrno().name;
      if (err !== 'EINVAL' && err !== 'ENOENT') out.failures.push(`umount ${path}: ${err}`);
    }
    try {
      rmSync(path, { force: true });
    } catch (e) {
      out.failures.push(e instanceof Error ? e.message : String(e));
    }
    return out;
  }

  configure(path: string, cfg: { ifname: string; address: string; prefixLen: number; gateway: string; defaultRoute: boolean }): Promise<void> {
    return configureNamespace(path, cfg);
  }
  async sysctl(path: string, values: Record<string, string>): Promise<void> {
    namespaceSysctl(path, values);
  }
  inspect(path: string): Promise<NsInspect> {
    return inspectNamespace(path);
  }
  async close(): Promise<void> {
    // nothing held between calls
  }
}

export const procHostPorts: HostPorts = { listeners: readListeners, owners: socketOwners };

/** The real drivers of one engine root. `socketLbCgroup` false: no socket programs. */
export function kernelDrivers(root: string, cgroup?: string | false): NetworkDrivers {
  return {
    firewall: new NftFirewall(),
    links: new RtnlLinks(),
    sandbox: new NetnsSandbox(),
    socketPrograms: new SocketLb(rootTag(root), cgroup === false ? undefined : (cgroup ?? socketLbCgroup())),
    hostPorts: procHostPorts,
  };
}
