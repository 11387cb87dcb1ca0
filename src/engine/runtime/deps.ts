// What Containers needs from the other engine parts, as narrow interfaces
// matching SEAMS.md. The engine wires the real ImageStore, NetworkManager and
// DnsService; tests pass small real implementations (an overlay over a
// busybox directory) or leave network/dns out (network_mode none only).

import type { EndpointSpec, PublishedPort, VolumeInfo } from '../api.js';
import type { ContainerDrivers } from './drivers.js';

export interface RootfsProvider {
  /** Mounts the container's root (overlay) at `<dir>/rootfs` with upper/work under `dir`; returns the merged path. */
  mountRootfs(imageId: string, dir: string): Promise<string>;
  unmountRootfs(dir: string): Promise<void>;
}

export interface EndpointResult {
  network: string;
  address: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  ifname: string;
}

/** Where the DNS server listens for a network: its gateway, or `{ gateway, internal: true }` (nothing forwarded upstream). */
export type DnsListen = string | { gateway: string; internal?: boolean };

export interface SandboxProvider {
  /** A network namespace pinned at `<runRoot>/netns/<containerId>`, loopback up. */
  createSandbox(containerId: string): Promise<{ path: string }>;
  connect(containerId: string, endpoint: EndpointSpec): Promise<EndpointResult>;
  disconnect(containerId: string, network: string): Promise<void>;
  /** Also disconnects everything. Idempotent. */
  removeSandbox(containerId: string): Promise<void>;
  publish(containerId: string, address: string, ports: PublishedPort[]): Promise<void | PublishedPort[]>;
  unpublish(containerId: string): Promise<void>;
  /** Optional: network name → gateway, where the DNS server listens. */
  gateways?(): Promise<Record<string, DnsListen>>;
  /** Optional: how many networks this process has made or removed (a change makes gateways learnt before stale). */
  networkChanges?(): number | Promise<number>;
}

export interface DnsRecordInput {
  id: string;
  name: string;
  service?: string;
  project?: string;
  networks: Record<string, { address: string; aliases: string[] }>;
  /** The monitor's state file: the DNS server answers for the container only while it says running. */
  stateFile?: string;
}

export interface DnsProvider {
  setContainer(rec: DnsRecordInput): Promise<void> | void;
  /**
   * Optional: setContainer in two steps. Resolves once the names are written, with the server's load of
   * them still under way (`loaded`): a start goes on meanwhile and awaits it before it returns.
   */
  writeContainer?(rec: DnsRecordInput): Promise<{ loaded: Promise<void> }>;
  removeContainer(id: string): Promise<void> | void;
  /** Optional: when absent, Containers renders the files itself (runtime/etc-files.ts). */
  renderResolvConf?(nameserver: string, search: string[]): string;
  renderHosts?(entries: { address: string; names: string[] }[]): string;
  /** Optional: started with the networks' gateways before a networked container starts. */
  ensureRunning?(listen?: Record<string, DnsListen>): Promise<unknown>;
  /** Optional: whether the server runs now (a cheap look: a create does not start it early then). */
  isRunning?(): boolean;
}

export interface VolumeLookup {
  inspect(name: string): Promise<VolumeInfo | undefined>;
}

export interface ContainerDeps {
  root: string;
  runRoot: string;
  images: RootfsProvider;
  network?: SandboxProvider;
  dns?: DnsProvider;
  volumes?: VolumeLookup;
  /** Runtime used when a spec names none (default `tsstack-runtime`). */
  runtime?: string;
  /** Where a problem that does not fail the call goes (a pre_stop hook that failed); default: stderr. */
  warn?: (message: string) => void;
  /** The host parts (drivers.ts); each one not given is the real one (kernel-drivers.ts). */
  drivers?: Partial<ContainerDrivers>;
}
