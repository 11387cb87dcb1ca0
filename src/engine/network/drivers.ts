// The kernel parts NetworkManager drives, each behind a small interface (issue 15): the manager
// keeps the records and decides; a driver does one kind of kernel work and holds no policy.
//   firewall        the nftables table (libnftables batches) and conntrack's NAT bindings
//   links           bridges, veths and addresses of the engine's namespace (rtnetlink), its sysctls
//   sandbox         network namespaces pinned by bind mounts, and what is done inside them
//   socketPrograms  the cgroup socket programs (eBPF) that translate host connections to published ports
//   hostPorts       the host's listening sockets (port conflicts)
// The real ones are in kernel-drivers.ts; test/fakes/network.ts keeps the same state in memory.

import type { Taken } from './ipam.js';
import type { NftCommand, NftObject } from './nft.js';
import type { DnatTarget } from './conntrack.js';
import type { LinkSummary } from './rtnl.js';
import type { NsInspect } from './ns-enter.js';
import type { Listener } from './ports.js';
import type { SocketLbStatus } from './socket-lb.js';
import type { ForwardEntry } from './socket-lb-programs.js';

export interface Firewall {
  /** The listing of one table (`nft -j list table` objects), undefined when it does not exist. */
  listTable(family: string, name: string): NftObject[] | undefined;
  /** One atomic batch: all of its commands apply, or none (then it throws). */
  run(commands: NftCommand[]): NftObject[];
  /** Drops the NAT bindings (conntrack) that lead to these targets; how many went. */
  forget(targets: DnatTarget[]): Promise<number>;
  close(): void;
}

export interface AddressSummary {
  index: number;
  address: string;
  prefixLen: number;
}

export interface Links {
  list(): Promise<LinkSummary[]>;
  byName(name: string): Promise<LinkSummary | undefined>;
  addresses(): Promise<AddressSummary[]>;
  createBridge(name: string, mac: string): Promise<void>;
  /** A veth pair: `hostName` on bridge `master` here, `peerName` (with `peerMac`) moved into the sandbox pinned at `sandboxPath`. */
  createVeth(hostName: string, peerName: string, peerMac: string, sandboxPath: string, master: number): Promise<void>;
  addAddress(index: number, address: string, prefixLen: number, broadcast?: string): Promise<void>;
  setUp(index: number): Promise<void>;
  setHairpin(index: number): Promise<void>;
  setMaster(index: number, master: number): Promise<void>;
  /** Deletes one link; a link already gone fails with ENODEV in its message. */
  delete(index: number): Promise<void>;
  /** Deletes the links as one device group `group` (all or nothing). */
  deleteGroup(indices: number[], group: number): Promise<void>;
  /** The names of the links here, on a channel of its own: it may run while other calls wait (removeSandbox's poll). */
  names(): Promise<Set<string>>;
  /** Address space the host uses: its routed subnets (except on the links `ours`) and its resolvers. */
  hostTaken(ours: Set<string>): Promise<Taken[]>;
  /** Sets a sysctl of the engine's namespace when it differs (`net.ipv4.ip_forward` form). */
  sysctl(key: string, value: string): void;
  close(): void;
}

export interface Sandbox {
  /** Mount points of the engine's mount namespace: a pinned sandbox is one. */
  pinned(): Set<string>;
  /** Whether a namespace is pinned at `path`: pinned().has(path) without listing every mount (one statfs). */
  isPinned(path: string): boolean;
  /** Makes `dir` (where sandboxes are pinned) exist, root's alone, as a shared mount of its own. */
  prepareDir(dir: string): void;
  /** Unmounts `dir` once no sandbox is left in it; failures are added to `failures`. */
  releaseDir(dir: string, failures: string[]): void;
  /** A new network namespace pinned at `path`, loopback up; nothing is left at `path` when it fails. */
  create(path: string): Promise<void>;
  /** Unpins the namespace at `path` and removes the file: whether it was pinned, and what failed. */
  unpin(path: string): { pinned: boolean; failures: string[] };
  /** Inside the namespace: address `ifname`, bring it up, optionally the default route via `gateway`. */
  configure(path: string, cfg: { ifname: string; address: string; prefixLen: number; gateway: string; defaultRoute: boolean }): Promise<void>;
  sysctl(path: string, values: Record<string, string>): Promise<void>;
  inspect(path: string): Promise<NsInspect>;
  close(): Promise<void>;
}

export interface SocketPrograms {
  /** The cgroup the programs attach to; undefined = off (the DNAT rules carry everything). */
  readonly cgroup: string | undefined;
  /** Why the last change fell back to the DNAT rules, if it did. */
  lastError?: string;
  netnsCookie(): bigint;
  /** Makes the translation exactly `entries` (attach with the first, detach with the last). Never throws. */
  sync(entries: ForwardEntry[]): void;
  /** The change alone when attached; else like `sync(all)`. Never throws. */
  apply(all: ForwardEntry[], removed: ForwardEntry[], added: ForwardEntry[]): void;
  status(): SocketLbStatus;
  close(): void;
}

export interface HostPorts {
  /** Sockets listening (TCP) or bound (UDP) on the host. */
  listeners(): Listener[];
  /** Which process holds each socket inode, for the message. */
  owners(inodes: Set<number>): Map<number, string>;
}

export interface NetworkDrivers {
  firewall: Firewall;
  links: Links;
  sandbox: Sandbox;
  socketPrograms: SocketPrograms;
  hostPorts: HostPorts;
}
