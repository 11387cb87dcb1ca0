// NetworkManager: Docker's container network model over the kernel, in process.
//   network  = a Linux bridge `tss-<id8>` with the gateway address, plus a subnet
//   endpoint = a veth pair: `vt<hash>` on the bridge, `ethN` inside the sandbox
//   sandbox  = a network namespace pinned by a bind mount at <runRoot>/netns/<containerId>
// Published ports, masquerade and isolation are the `inet tsstack` nftables
// table, re-rendered from state after every change (nft-rules.ts).
//
// Every mutating call holds the state lock (state.ts). Creation undoes what it
// made when a later step fails; teardown does every step and reports all failures.
// The kernel work goes through the drivers of drivers.ts (the real ones by default,
// kernel-drivers.ts; in-memory fakes in the unit tests): the decisions are made here.

import { randomBytes, sha256Hex } from '../../util/digest.js';
import { access } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import type { EndpointSpec, Fault, Labels, NetworkApi, NetworkCreateSpec, NetworkInfo, PublishedPort } from '../api.js';
import { formatCidr, intToIp, ipToInt, parseCidr } from './cidr.js';
import { allocateAddress, chooseSubnet, macFor, type Taken } from './ipam.js';
import type { NsInspect } from './ns-enter.js';
import type { DnatTarget } from './conntrack.js';
import { phase } from '../../util/phase-trace.js';
import { FAMILY, buildTable, canonical, deleteBatch, isAnyHost, portElementsBatch, toBatch } from './nft-rules.js';
import { freePort, portProblems } from './port-conflicts.js';
import type { LinkSummary } from './rtnl.js';
import { type EndpointRecord, type NetworkRecord, NetworkStore, type PortRecord, checkNetworkName } from './state.js';
import { tableFor } from './table-name.js';
import type { Firewall, HostPorts, Links, NetworkDrivers, Sandbox, SocketPrograms } from './drivers.js';
import { kernelDrivers } from './kernel-drivers.js';
import { localRules, networkFaults } from './health.js';
import type { ForwardEntry } from './socket-lb-programs.js';
import { faultPoint } from '../../util/fault.js';
import { beginIntent, endIntent } from '../intents.js';
import { byCodeUnits } from '../../util/compare.js';

export interface NetworkManagerOptions {
  root: string;
  runRoot: string;
  /** nftables table (family inet); default: tableFor(root). */
  table?: string;
  /**
   * cgroup v2 directory for socket-level translation of host connections to
   * published ports (socket-lb.ts); false = DNAT rules only. Default: socketLbCgroup().
   */
  socketLbCgroup?: string | false;
  /** The kernel parts (drivers.ts); each one not given is the real one (kernel-drivers.ts). */
  drivers?: Partial<NetworkDrivers>;
}

export { DEFAULT_ROOT, tableFor } from './table-name.js';

/** How long removeSandbox waits for the kernel to destroy an unpinned namespace before deleting its veths itself. */
const VETH_GONE_TIMEOUT_MS = 1000;

/**
 * Group commit under a lock: keys added while a run waits for the lock join it; the run takes the
 * keys there are once it holds the lock, and keys added after that form the next run.
 */
class Batcher<K, R> {
  private open?: { keys: Set<K>; done: Promise<Map<K, R>> };
  constructor(
    private readonly lock: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly run: (keys: K[]) => Promise<Map<K, R>>,
  ) {}

  async add(key: K): Promise<R> {
    let b = this.open;
    if (!b) {
      const keys = new Set<K>();
      const close = () => { if (this.open?.keys === keys) this.open = undefined; };
      const done = this.lock(async () => {
        // one turn of the event loop first: a caller whose own step under this lock has just ended
        // (a sandbox made) comes a few microtasks later, after this run would otherwise have closed
        // its keys. In an `up` of 20 the last container's connect missed the batch of the other 18
        // that way, and waited ~50 ms more for a batch of its own.
        await new Promise((r) => setImmediate(r));
        close();
        return this.run([...keys].sort());
      });
      done.catch(close); // a run that failed before it started (the lock not had) takes no later keys with it
      b = this.open = { keys, done };
    }
    b.keys.add(key);
    return (await b.done).get(key)!;
  }
}

export interface EndpointResult {
  network: string;
  address: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  ifname: string;
}

/** The published ports a container got (host port 0 resolved to the port picked). */
export type PublishResult = PublishedPort[];

function info(r: NetworkRecord): NetworkInfo {
  return { name: r.name, id: r.id, bridge: r.bridge, subnet: r.subnet, gateway: r.gateway, internal: r.internal, labels: { ...r.labels } };
}

function matches(labels: Labels, filter?: Labels): boolean {
  return !filter || Object.entries(filter).every(([k, v]) => labels[k] === v);
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Host-side veth name: short, stable per (container, network), ≤ 15 bytes. */
function hostIfname(containerId: string, network: string): string {
  return 'vt' + sha256Hex(`${containerId}\0${network}`).slice(0, 12);
}

export class NetworkManager implements NetworkApi {
  readonly root: string;
  readonly runRoot: string;
  /** The nftables table (family inet) this manager owns. */
  readonly table: string;
  private readonly store: NetworkStore;
  private readonly firewall: Firewall;
  private readonly links: Links;
  private readonly sandbox: Sandbox;
  private readonly hostPorts: HostPorts;
  /** Host connections to published ports, translated in connect() (the DNAT rules stay for everything else). */
  readonly socketLb: SocketPrograms;
  /** Networks this manager has made or removed: when it changed, what was learnt of the networks before may not hold. */
  private madeOrRemoved = 0;

  constructor(opts: NetworkManagerOptions) {
    this.root = opts.root;
    this.runRoot = opts.runRoot;
    this.table = opts.table ?? tableFor(opts.root);
    this.store = new NetworkStore(opts.root);
    const given = opts.drivers ?? {};
    // only the parts not given are made (a fake firewall never loads libnftables)
    const complete = given.firewall && given.links && given.sandbox && given.socketPrograms && given.hostPorts;
    const d = { ...(complete ? undefined : kernelDrivers(opts.root, opts.socketLbCgroup)), ...given } as NetworkDrivers;
    this.firewall = d.firewall;
    this.links = d.links;
    this.sandbox = d.sandbox;
    this.hostPorts = d.hostPorts;
    this.socketLb = d.socketPrograms;
  }

  /** Releases the netlink sockets and the namespace worker. State and kernel objects stay. */
  async close(): Promise<void> {
    this.links.close();
    this.firewall.close();
    this.socketLb.close();
    await this.sandbox.close();
  }

  /** Where the container's sandbox is pinned. Container ids are file names: no `/`, no leading dot. */
  sandboxPath(containerId: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(containerId)) {
      throw new TsstackError('INTERNAL', `container id "${containerId}" cannot name a network sandbox`, { hint: 'container ids are letters, digits, "_", "." and "-"' });
    }
    return join(this.runRoot, 'netns', containerId);
  }

  // ------------------------------------------------------------ networks

  async create(spec: NetworkCreateSpec): Promise<NetworkInfo> {
    checkNetworkName(spec.name);
    return this.store.withLock(async () => {
      const existing = this.store.get(spec.name);
      if (existing) {
        const problem = this.differs(existing, spec);
        if (problem) {
          throw new TsstackError('CONFLICT', `network "${spec.name}" already exists with ${problem}`, { hint: `remove it first (tsstack down, or tsstack network rm ${spec.name})` });
        }
        // after a reboot the state outlives the bridge and the table: remake them
        await this.ensureKernel(existing);
        await this.syncFirewall();
        return info(existing);
      }
      const taken = await this.taken(spec.name);
      const choice = chooseSubnet(spec.name, spec, taken);
      const id = randomBytes(32).toString('hex');
      const rec: NetworkRecord = {
        name: spec.name,
        id,
        bridge: `tss-${id.slice(0, 8)}`,
        subnet: formatCidr(choice.subnet),
        gateway: intToIp(choice.gateway),
        internal: !!spec.internal,
        labels: { ...spec.labels },
        created: new Date().toISOString(),
        endpoints: {},
      };
      // Recorded (with an intent) before the bridge is made: a create killed at any step leaves a record
      // that names the bridge, which the next command's recovery removes with it (recovery.ts).
      beginIntent(this.root, { kind: 'network', op: 'create', name: rec.name, project: rec.labels['tsstack.project'], link: rec.bridge });
      try {
        this.store.put(rec);
        faultPoint('network.recorded');
        await this.ensureKernel(rec);
        faultPoint('network.bridge');
        // a new network's rules are not in the table yet (its bridge's name is new): no listing to compare
        // with first (~3.5 ms of libnftables here)
        await this.syncFirewall({ changed: true });
      } catch (e) {
        const undo: string[] = [];
        await this.removeBridge(rec, undo);
        try {
          this.store.delete(rec.name);
          await this.syncFirewall();
        } catch (e2) {
          undo.push(errMessage(e2));
        }
        if (!undo.length) endIntent(this.root, 'network', rec.name);
        throw this.wrap(e, `could not create network "${spec.name}"`, undo);
      }
      endIntent(this.root, 'network', rec.name);
      this.madeOrRemoved += 1;
      return info(rec);
    });
  }

  /**
   * Deletes `bridges` that no recorded network owns (named by an intent of this root: a removal killed or
   * failed after forgetting its network) and makes the nftables table and socket programs match the
   * recorded networks again. Only `tss-<8 hex>` names are touched.
   */
  async resync(bridges: string[] = []): Promise<void> {
    return this.store.withLock(async () => {
      const owned = new Set(this.store.list().map((r) => r.bridge));
      const failures: string[] = [];
      for (const b of bridges) if (/^tss-[0-9a-f]{8}$/.test(b) && !owned.has(b)) await this.removeLink(b, failures);
      await this.syncFirewall();
      if (failures.length) throw new TsstackError('NETWORK', failures[0]!, { details: failures.slice(1), hint: 'run the command again; leftovers are retried' });
    });
  }

  /** How many networks this manager has made or removed so far. */
  networkChanges(): number {
    return this.madeOrRemoved;
  }

  async inspect(name: string): Promise<NetworkInfo | undefined> {
    const r = this.store.get(name);
    return r && info(r);
  }

  async list(filter?: Labels): Promise<NetworkInfo[]> {
    return this.store.list().filter((r) => matches(r.labels, filter)).map(info);
  }

  async remove(name: string): Promise<void> {
    return this.store.withLock(async () => {
      const rec = this.store.get(name);
      if (!rec) throw new TsstackError('NOT_FOUND', `network "${name}" does not exist`, { hint: 'tsstack network ls lists the networks' });
      // a lease whose sandbox is gone (crash, reboot) holds nothing: release it
      const live = this.sandbox.pinned();
      const users = Object.keys(rec.endpoints).filter((id) => live.has(this.sandboxPath(id))).sort();
      if (users.length) {
        throw new TsstackError('CONFLICT', `network "${name}" is still used by container${users.length > 1 ? 's' : ''} ${users.join(', ')}`, { hint: 'remove those containers first (tsstack down)' });
      }
      const failures: string[] = [];
      beginIntent(this.root, { kind: 'network', op: 'remove', name, project: rec.labels['tsstack.project'], link: rec.bridge });
      for (const ep of Object.values(rec.endpoints)) if (!this.handled(ep.hostIfname)) await this.removeLink(ep.hostIfname, failures);
      // a bridge prepareRemoval is deleting: its end is awaited below, after the records and the table
      const deleting = this.deleting?.names.has(rec.bridge) ? this.deleting.done : undefined;
      if (!deleting && !this.unlinked.has(rec.bridge)) await this.removeBridge(rec, failures);
      faultPoint('network.unlinked');
      this.store.delete(name);
      this.madeOrRemoved += 1;
      this.retiring.delete(name);
      faultPoint('network.forgotten');
      try {
        // the table held this network's subnet: it changes, so it is rebuilt without listing it first
        await this.syncFirewall({ changed: true });
      } catch (e) {
        failures.push(errMessage(e));
      }
      const failed = (await deleting)?.get(rec.bridge);
      if (failed) failures.push(`delete link ${rec.bridge}: ${failed}`);
      if (!failures.length) endIntent(this.root, 'network', name);
      if (failures.length) {
        throw new TsstackError('NETWORK', `network "${name}" was removed, but cleaning up failed: ${failures[0]}`, { details: failures, hint: 'run the command again; leftovers are retried' });
      }
    });
  }

  async check(specs: NetworkCreateSpec[]): Promise<string[]> {
    const problems: string[] = [];
    const names = new Set(specs.map((s) => s.name));
    const taken = (await this.taken()).filter((t) => !(t.network && names.has(t.network)));
    const planned: Taken[] = [];
    // explicit subnets first: a subnet picked from the pool gives way to them, as it will at create
    const ordered = [...specs].sort((a, b) => Number(!a.subnet) - Number(!b.subnet) || byCodeUnits(a.name, b.name));
    for (const spec of ordered) {
      try {
        checkNetworkName(spec.name);
        const existing = this.store.get(spec.name);
        if (existing) {
          const problem = this.differs(existing, spec);
          if (problem) problems.push(`network "${spec.name}" already exists with ${problem}`);
          planned.push({ cidr: parseCidr(existing.subnet), owner: `network "${spec.name}" (${existing.subnet})` });
          continue;
        }
        const choice = chooseSubnet(spec.name, spec, [...taken, ...planned]);
        planned.push({ cidr: choice.subnet, owner: `network "${spec.name}" (${formatCidr(choice.subnet)})` });
      } catch (e) {
        problems.push(errMessage(e));
      }
    }
    return problems;
  }

  async checkPorts(ports: PublishedPort[], exceptContainer?: string): Promise<string[]> {
    return portProblems(ports, this.store.ports().filter((p) => p.containerId !== exceptContainer), this.hostPorts.listeners(), (i) => this.hostPorts.owners(i), await this.localAddresses());
  }

  /** Gateway address of each network: where the DNS server listens. */
  async gateways(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const r of this.store.list()) out[r.name] = r.gateway;
    return out;
  }

  // ------------------------------------------------------------ sandboxes

  async createSandbox(containerId: string): Promise<{ path: string }> {
    return this.store.withLock(async () => {
      const path = this.sandboxPath(containerId);
      if (this.sandbox.isPinned(path)) return { path };
      this.sandbox.prepareDir(join(this.runRoot, 'netns'));
      try {
        await this.sandbox.create(path);
      } catch (e) {
        this.releaseNetnsDir();
        throw new TsstackError('NETWORK', `could not create the network namespace of container ${containerId}: ${errMessage(e)}`, { hint: 'tsstack needs root (CAP_SYS_ADMIN) to create network namespaces', cause: e });
      }
      phase(() => `sandbox ${containerId.slice(0, 6)}: made`);
      return { path };
    });
  }

  /** Unmounts `<runRoot>/netns` once no sandbox is left in it. */
  private releaseNetnsDir(failures: string[] = []): void {
    this.sandbox.releaseDir(join(this.runRoot, 'netns'), failures);
  }

  /**
   * Connects made while another holds the lock go together (Batcher): per network one read of its
   * record, one check of its bridge and one durable write of the leases (not one per container).
   * Each still gets its own outcome: a failed veth fails that connect only; a failed write fails
   * every new lease of the batch, with their links removed.
   */
  async connect(containerId: string, spec: EndpointSpec): Promise<EndpointResult> {
    const key = `${spec.network}\0${containerId}`;
    this.connectSpecs.set(key, spec);
    const r = await this.connects.add(key);
    if ('error' in r) throw r.error;
    return r.ep;
  }

  private readonly connectSpecs = new Map<string, EndpointSpec>();
  private readonly connects = new Batcher<string, { ep: EndpointResult } | { error: unknown }>((f) => this.store.withLock(f), (keys) => this.connectLocked(keys));

  private async connectLocked(keys: string[]): Promise<Map<string, { ep: EndpointResult } | { error: unknown }>> {
    phase(() => `connect batch of ${keys.length}: begun`);
    const out = new Map<string, { ep: EndpointResult } | { error: unknown }>();
    const byNetwork = new Map<string, [key: string, containerId: string, spec: EndpointSpec][]>();
    for (const key of keys) {
      const spec = this.connectSpecs.get(key)!;
      this.connectSpecs.delete(key);
      const containerId = key.slice(key.indexOf('\0') + 1);
      byNetwork.set(spec.network, [...(byNetwork.get(spec.network) ?? []), [key, containerId, spec]]);
    }
    for (const [network, items] of byNetwork) {
      const rec = this.store.get(network);
      if (!rec) {
        const error = new TsstackError('NOT_FOUND', `network "${network}" does not exist`, { hint: 'create it first (tsstack up creates the networks a stack declares)' });
        for (const [key] of items) out.set(key, { error });
        continue;
      }
      const fresh: [key: string, containerId: string, ep: EndpointRecord][] = [];
      let kernel: Promise<void> | undefined;
      // the other networks' records, read once for the batch (not once per connect): none of them changes
      // while this network's connects run under the lock; a network before this one was committed above
      const others = this.store.list().filter((n) => n.name !== rec.name);
      // side by side: each connectOne takes its address before its first await, and the kernel makes the
      // veths one at a time anyway (RTNL); one after another, the last of a batch of 20 waited ~90 ms
      await Promise.all(items.map(async ([key, containerId, spec]) => {
        try {
          out.set(key, { ep: await this.connectOne(rec, containerId, spec, () => (kernel ??= this.ensureKernel(rec)), fresh, others) });
        } catch (error) {
          out.set(key, { error });
        }
      }));
      if (!fresh.length) continue;
      phase(() => `connect batch of ${keys.length}: plumbed`);
      try {
        await this.store.commit(rec);
      } catch (e) {
        for (const [key, containerId, ep] of fresh) {
          const undo: string[] = [];
          await this.removeLink(ep.hostIfname, undo);
          out.set(key, { error: this.wrap(e, `could not connect container ${containerId} to network "${rec.name}"`, undo) });
        }
      }
    }
    return out;
  }

  /**
   * One endpoint of a batch (caller holds the lock): a new lease is added to `rec` and to `fresh`, for the
   * batch's one write. The endpoints of a batch are connected side by side: the lease is taken in `rec`
   * before the first await (so the next one's allocation sees it) and given back if the plumbing fails.
   */
  private async connectOne(rec: NetworkRecord, containerId: string, spec: EndpointSpec, kernel: () => Promise<void>, fresh: [string, string, EndpointRecord][], others: NetworkRecord[]): Promise<EndpointResult> {
    const path = this.sandboxPath(containerId);
    if (!this.sandbox.isPinned(path)) throw new TsstackError('NETWORK', `container ${containerId} has no network sandbox at ${path}`, { hint: 'createSandbox must run before connect' });
    const subnet = parseCidr(rec.subnet);
    const old = rec.endpoints[containerId];
    if (old) {
      if (spec.ipv4Address && spec.ipv4Address !== old.address) {
        throw new TsstackError('CONFLICT', `container ${containerId} is already on network "${rec.name}" with address ${old.address}, not ${spec.ipv4Address}`, { hint: 'disconnect it first' });
      }
      await kernel();
      await this.plumb(containerId, rec, old);
      return this.endpointResult(rec, old);
    }
    const used = new Map<number, string>();
    for (const [cid, ep] of Object.entries(rec.endpoints)) used.set(ipToInt(ep.address), cid);
    const addr = allocateAddress(rec.name, subnet, ipToInt(rec.gateway), used, spec.ipv4Address);
    const mine = others.flatMap((n) => (n.endpoints[containerId] ? [n.endpoints[containerId]!] : []));
    let n = 0;
    while (mine.some((e) => e.ifname === `eth${n}`)) n++;
    const ep: EndpointRecord = {
      address: intToIp(addr),
      prefixLen: subnet.prefix,
      mac: macFor(addr),
      ifname: `eth${n}`,
      hostIfname: hostIfname(containerId, rec.name),
      aliases: [...spec.aliases].sort(),
      defaultRoute: !rec.internal && !mine.some((e) => e.defaultRoute),
    };
    rec.endpoints[containerId] = ep; // taken now: the batch's other connects allocate meanwhile
    try {
      await kernel();
      await this.plumb(containerId, rec, ep);
    } catch (e) {
      delete rec.endpoints[containerId];
      const undo: string[] = [];
      await this.removeLink(ep.hostIfname, undo);
      throw this.wrap(e, `could not connect container ${containerId} to network "${rec.name}"`, undo);
    }
    fresh.push([`${rec.name}\0${containerId}`, containerId, ep]);
    return this.endpointResult(rec, ep);
  }

  async disconnect(containerId: string, network: string): Promise<void> {
    return this.store.withLock(async () => {
      const failures: string[] = [];
      await this.detach(containerId, network, failures);
      if (failures.length) throw new TsstackError('NETWORK', `disconnecting container ${containerId} from "${network}" failed: ${failures[0]}`, { details: failures });
    });
  }

  /**
   * Disconnects the container from every network, drops its published ports and unpins its namespace.
   *
   * The veths are not deleted one by one: each deletion waits for RCU grace periods (20–150 ms on a
   * busy host). Unpinning the namespace lets the kernel destroy it, taking the veth pair with it, in
   * its cleanup work that batches every dying namespace. So: (1) unpin, drop ports (locked, batched
   * with concurrent calls); (2) wait, unlocked, until the host ends are gone; (3) delete whatever is
   * left (a namespace kept alive by a stray process, or one not pinned any more) and release the
   * leases (locked, batched). A lease goes only with its link, so a failed removal is retried whole.
   * Each caller hears only its own container's failures.
   */
  async removeSandbox(containerId: string): Promise<void> {
    this.sandboxPath(containerId); // validates the id before it joins a batch
    const unpinned = await this.unpins.add(containerId);
    // links prepareRemoval deleted are not waited for: the namespace dies alone, nothing of ours in it
    if (unpinned.pinned) await this.vanished(unpinned.links.filter((n) => !this.handled(n)), VETH_GONE_TIMEOUT_MS);
    const failures = [...unpinned.failures, ...(await this.releases.add(containerId))];
    if (failures.length) throw new TsstackError('NETWORK', `removing the network sandbox of container ${containerId} was incomplete: ${failures[0]}`, { details: failures, hint: 'run the removal again' });
  }

  /**
   * (down) The containers `ids` are stopped and about to be removed, and `networks` after them: the
   * host ends of their veths and the bridges of those networks that no other live sandbox uses go
   * now, in ONE kernel batch (a device group's RTM_DELLINK: one set of RCU grace periods, ~30 ms,
   * not one per namespace destroyed and then another for the bridge; sent from the thread pool).
   * Their removals then wait for no namespace's destruction nor for this deletion (sent under the
   * lock, awaited without it): the link a lease stands for is gone, or going for good (a group that
   * fails is deleted one by one; what still fails is thrown here, and by remove() for a bridge).
   * Leases and records stay until removeSandbox and remove() release and forget them; a network
   * whose bridge goes gets its removal intent first, as in remove() (the containers' intents are the
   * caller's: Engine.prepareRemoval), so the next command finishes what a kill -9 interrupts.
   * Resolves once the deletion is under way; `done` once it is over.
   */
  async prepareRemoval(ids: string[], networks: string[]): Promise<{ done: Promise<void> }> {
    // libuv makes its thread pool on first use (in a `down`, this deletion's send): made now, meanwhile
    access(this.root, () => {});
    const deleting = await this.store.withLock(async () => {
      const going = new Set(ids);
      const names = new Set<string>();
      const recs = this.store.list();
      for (const rec of recs) for (const id of going) if (rec.endpoints[id]) names.add(rec.endpoints[id]!.hostIfname);
      const retiring = recs.filter((r) => networks.includes(r.name));
      if (retiring.length) {
        const pinned = this.sandbox.pinned();
        for (const rec of retiring) {
          const leases = Object.entries(rec.endpoints);
          // a live sandbox not among the removed still uses the bridge: it stays (remove() will refuse)
          if (leases.some(([id]) => !going.has(id) && pinned.has(this.sandboxPath(id)))) continue;
          // from here a kill leaves the network to the next command's recovery to remove, as remove() would
          beginIntent(this.root, { kind: 'network', op: 'remove', name: rec.name, project: rec.labels['tsstack.project'], link: rec.bridge });
          this.retiring.add(rec.name);
          for (const [, ep] of leases) names.add(ep.hostIfname);
          names.add(rec.bridge);
        }
      }
      return this.startDeletion([...names]);
    });
    return { done: deleting ? this.deleted(deleting) : Promise.resolve() };
  }

  /** The end of prepareRemoval's deletion: what went is `unlinked`; what could not go at all is thrown. */
  private async deleted(deleting: { names: Set<string>; done: Promise<Map<string, string>> }): Promise<void> {
    const failed = await deleting.done;
    for (const n of deleting.names) if (!failed.has(n)) this.unlinked.add(n);
    faultPoint('network.retired');
    if (failed.size) {
      const all = [...failed].map(([n, m]) => `delete link ${n}: ${m}`);
      throw new TsstackError('NETWORK', all[0]!, { details: all.slice(1), hint: 'run the command again; leftovers are retried' });
    }
  }

  /**
   * Deletes the links among `names` that exist as one group, the request sent before this returns (the
   * caller holds the lock: the links are `deleting` before any other locked step can look at them), its
   * end awaited by whoever needs it without the lock. If the group fails, one by one.
   */
  private async startDeletion(names: string[]): Promise<{ names: Set<string>; done: Promise<Map<string, string>> } | undefined> {
    const want = new Set(names);
    const all = await this.links.list();
    const found = all.filter((l) => want.has(l.name));
    if (!found.length) return undefined;
    const used = new Set(all.map((l) => l.group));
    let group: number;
    do group = 0x10000 + (randomBytes(4).readUInt32LE(0) % 0x7ffe0000); while (used.has(group));
    const sent = this.links.deleteGroup(found.map((l) => l.index), group); // the links are put in the group and the deletion sent now
    const done = sent.then(() => new Map<string, string>(), () => this.removeLinks(found.map((l) => l.name)));
    return (this.deleting = { names: new Set(found.map((l) => l.name)), done });
  }

  /** Networks prepareRemoval is deleting the bridge of (their intents written): their records go whole in remove(). */
  private readonly retiring = new Set<string>();

  /** Links prepareRemoval deleted (by this process), and the deletion under way. */
  private readonly unlinked = new Set<string>();
  private deleting?: { names: Set<string>; done: Promise<Map<string, string>> };

  /** Whether prepareRemoval deletes (or deleted) the link `name`: nobody else deletes it nor waits for it to go. */
  private handled(name: string): boolean {
    return this.unlinked.has(name) || !!this.deleting?.names.has(name);
  }

  private readonly unpins = new Batcher<string, { pinned: boolean; links: string[]; failures: string[] }>((f) => this.store.withLock(f), (ids) => this.unpinLocked(ids));
  private readonly releases = new Batcher<string, string[]>((f) => this.store.withLock(f), (ids) => this.releaseLocked(ids));

  /** Phase 1 of removeSandbox: published ports dropped, namespaces unpinned. */
  private async unpinLocked(ids: string[]): Promise<Map<string, { pinned: boolean; links: string[]; failures: string[] }>> {
    const out = new Map(ids.map((id) => [id, { pinned: false, links: [] as string[], failures: [] as string[] }]));
    for (const rec of this.store.list()) for (const id of ids) if (rec.endpoints[id]) out.get(id)!.links.push(rec.endpoints[id]!.hostIfname);
    try {
      const ports = this.store.ports();
      const gone = new Set(ids);
      const mine = ports.filter((p) => gone.has(p.containerId));
      if (mine.length) {
        this.store.putPorts(ports.filter((p) => !gone.has(p.containerId)));
        await this.syncPorts(mine, []);
        // only a published port DNATs to a container: without one there is nothing to forget (and a
        // conntrack dump walks the kernel's whole table, ~10 ms even when empty)
        const fails: string[] = [];
        await this.forget(mine.map((p) => ({ address: p.address })), fails);
        for (const id of new Set(mine.map((p) => p.containerId))) out.get(id)!.failures.push(...fails);
      }
    } catch (e) {
      for (const id of ids) out.get(id)!.failures.push(errMessage(e));
    }
    for (const id of ids) {
      const r = out.get(id)!;
      const u = this.sandbox.unpin(this.sandboxPath(id));
      r.pinned = u.pinned;
      r.failures.push(...u.failures);
    }
    return out;
  }

  /** Phase 3 of removeSandbox: leftover veths deleted, leases of the links that are gone released. */
  private async releaseLocked(ids: string[]): Promise<Map<string, string[]>> {
    const failures = new Map<string, string[]>(ids.map((id) => [id, []]));
    const recs = this.store.list();
    const endpoints: { id: string; rec: NetworkRecord; ep: EndpointRecord }[] = [];
    for (const rec of recs) for (const id of ids) if (rec.endpoints[id]) endpoints.push({ id, rec, ep: rec.endpoints[id]! });
    const linkFailures = await this.removeLinks(endpoints.map((e) => e.ep.hostIfname).filter((n) => !this.handled(n)));
    for (const rec of recs) {
      const mine = endpoints.filter((e) => e.rec === rec);
      const released = mine.filter((e) => !linkFailures.has(e.ep.hostIfname));
      for (const e of mine) if (linkFailures.has(e.ep.hostIfname)) failures.get(e.id)!.push(`delete link ${e.ep.hostIfname}: ${linkFailures.get(e.ep.hostIfname)}`);
      if (!released.length) continue;
      for (const e of released) delete rec.endpoints[e.id];
      // a network going (its intent written): its leases go with its record in remove(), or the next
      // command's recovery of it; no durable write of each lease's end before
      if (this.retiring.has(rec.name)) continue;
      try {
        this.store.put(rec);
      } catch (err) {
        for (const e of released) failures.get(e.id)!.push(errMessage(err));
      }
    }
    const rel: string[] = [];
    this.releaseNetnsDir(rel);
    for (const m of rel) for (const id of ids) failures.get(id)!.push(m);
    return failures;
  }

  /**
   * Resolves once none of the links `names` exists here, or after `timeoutMs`. One poller serves
   * every waiter, on a socket of its own (the locked work may use the main one meanwhile).
   */
  private vanished(names: string[], timeoutMs: number): Promise<void> {
    if (!names.length) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ names, resolve, deadline: Date.now() + timeoutMs });
      if (this.waiters.length === 1) void this.pollVanished();
    });
  }

  private waiters: { names: string[]; resolve: () => void; deadline: number }[] = [];

  private async pollVanished(): Promise<void> {
    // The first look 1 ms after the unpin, the later ones 3 ms apart: the kernel has mostly destroyed the
    // namespace by the end of the first look (a `run --rm`'s removal found the veth gone at the first look
    // after 0, 1 and 3 ms alike; the look itself, a dump of the links, takes ~1 ms)
    for (let delay = 1; this.waiters.length; delay = 3) {
      await new Promise((r) => setTimeout(r, delay));
      let present: Set<string> | undefined;
      try {
        present = await this.links.names();
      } catch {
        present = undefined; // cannot tell: the waiters time out, and phase 3 deletes what is left
      }
      const now = Date.now();
      this.waiters = this.waiters.filter((w) => {
        const done = (present !== undefined && !w.names.some((n) => present!.has(n))) || now >= w.deadline;
        if (done) w.resolve();
        return !done;
      });
    }
  }

  /** Links and addresses inside a sandbox (for diagnostics and tests). */
  async inspectSandbox(containerId: string): Promise<NsInspect> {
    return this.sandbox.inspect(this.sandboxPath(containerId));
  }

  /** Sets `net.*` sysctls inside a container's sandbox. */
  async setSandboxSysctls(containerId: string, values: Record<string, string>): Promise<void> {
    const bad = Object.keys(values).filter((k) => !k.startsWith('net.'));
    if (bad.length) throw new TsstackError('NETWORK', `sysctl ${bad[0]} is not a network sysctl`, { hint: 'only net.* sysctls are set in the network sandbox' });
    await this.sandbox.sysctl(this.sandboxPath(containerId), values);
  }

  // ------------------------------------------------------------ ports

  async publish(containerId: string, address: string, ports: PublishedPort[]): Promise<PublishResult> {
    return this.store.withLock(async () => {
      const current = this.store.ports().filter((p) => p.containerId !== containerId);
      const listeners = this.hostPorts.listeners();
      const problems = portProblems(ports, current, listeners, (i) => this.hostPorts.owners(i), await this.localAddresses());
      if (problems.length) {
        throw new TsstackError('CONFLICT', problems[0]!, { details: problems, hint: 'choose another host port, or stop what holds it' });
      }
      const records: PortRecord[] = [];
      const result: PublishedPort[] = [];
      for (const p of ports) {
        let hostPort = p.hostPort;
        if (hostPort === 0) hostPort = freePort(p, [...current, ...records], listeners);
        const r: PortRecord = { containerId, address, hostPort, containerPort: p.containerPort, protocol: p.protocol };
        if (!isAnyHost(p.hostIp)) r.hostIp = p.hostIp;
        records.push(r);
        result.push({ ...p, hostPort });
      }
      const before = this.store.ports().filter((p) => p.containerId === containerId);
      this.store.putPorts([...current, ...records]);
      try {
        await this.syncPorts(before, records);
      } catch (e) {
        this.store.putPorts([...current, ...before]);
        await this.syncFirewall().catch(() => undefined);
        throw e;
      }
      const same = (a: PortRecord, b: PortRecord) => a.address === b.address && a.containerPort === b.containerPort && a.protocol === b.protocol;
      await this.forget(before.filter((old) => !records.some((r) => same(r, old))).map((p) => ({ address: p.address, port: p.containerPort, protocol: p.protocol })));
      return result;
    });
  }

  async unpublish(containerId: string): Promise<void> {
    return this.store.withLock(async () => {
      const ports = this.store.ports();
      const rest = ports.filter((p) => p.containerId !== containerId);
      if (rest.length === ports.length) return;
      this.store.putPorts(rest);
      await this.syncPorts(ports.filter((p) => p.containerId === containerId), []);
      await this.forget(ports.filter((p) => p.containerId === containerId).map((p) => ({ address: p.address, port: p.containerPort, protocol: p.protocol })));
    });
  }

  /** Best effort: a stale NAT binding only delays new traffic until it times out. */
  private async forget(targets: DnatTarget[], failures?: string[]): Promise<void> {
    try {
      await this.firewall.forget(targets);
    } catch (e) {
      failures?.push(`conntrack: ${errMessage(e)}`);
    }
  }

  /** Published ports of one container (all, when no id is given). */
  publishedPorts(containerId?: string): PortRecord[] {
    return this.store.ports().filter((p) => containerId === undefined || p.containerId === containerId);
  }

  // ------------------------------------------------------------ internals

  private differs(rec: NetworkRecord, spec: NetworkCreateSpec): string | undefined {
    if (spec.subnet && spec.subnet !== rec.subnet) return `subnet ${rec.subnet}, not ${spec.subnet}`;
    if (spec.gateway && spec.gateway !== rec.gateway) return `gateway ${rec.gateway}, not ${spec.gateway}`;
    if (!!spec.internal !== rec.internal) return `internal: ${rec.internal}`;
    return undefined;
  }

  private async localAddresses(): Promise<Set<string>> {
    return new Set((await this.links.addresses()).map((a) => a.address));
  }

  /** Address space in use: host routes, resolvers and every tsstack network but `except`. */
  private async taken(except?: string): Promise<(Taken & { network?: string })[]> {
    const recs = this.store.list();
    const ours = new Set(recs.map((r) => r.bridge));
    const out: (Taken & { network?: string })[] = await this.links.hostTaken(ours);
    for (const r of recs) {
      if (r.name !== except) out.push({ cidr: parseCidr(r.subnet), owner: `network "${r.name}" (${r.subnet})`, network: r.name });
    }
    return out;
  }

  /** Bridge with the gateway address, up; forwarding on. Checks before each step, so it can run any number of times. */
  private async ensureKernel(rec: NetworkRecord): Promise<void> {
    const s = this.links;
    s.sysctl('net.ipv4.ip_forward', '1');
    let br = await s.byName(rec.bridge);
    if (!br) {
      // The gateway's own 02:42:<address> MAC: stable, and distinct from every container's (macFor of its address).
      await s.createBridge(rec.bridge, macFor(ipToInt(rec.gateway)));
      br = await s.byName(rec.bridge);
      if (!br) throw new Error(`bridge ${rec.bridge} vanished after creation`);
    }
    const prefix = Number(rec.subnet.split('/')[1]);
    if (!(await s.addresses()).some((a) => a.index === br!.index && a.address === rec.gateway)) {
      const c = parseCidr(rec.subnet);
      await s.addAddress(br.index, rec.gateway, prefix, intToIp(c.base + 2 ** (32 - c.prefix) - 1));
    }
    // 127.0.0.1 → published port: the DNAT'd packet leaves through the bridge with
    // a loopback source until masqueraded. Allowed on our bridges only, never on
    // `all` (that would make 127/8 routable from the host's real interfaces).
    s.sysctl(`net.ipv4.conf.${rec.bridge}.route_localnet`, '1');
    if (!br.up) await s.setUp(br.index);
  }

  /** The veth pair of an endpoint and its configuration inside the sandbox; skips what exists. */
  private async plumb(containerId: string, rec: NetworkRecord, ep: EndpointRecord): Promise<void> {
    const s = this.links;
    const br = await s.byName(rec.bridge);
    if (!br) throw new Error(`bridge ${rec.bridge} is missing`);
    let host = await s.byName(ep.hostIfname);
    if (host) {
      // a veth left from an earlier sandbox of this container (its old namespace still held by a process) leads nowhere
      const inside = await this.sandbox.inspect(this.sandboxPath(containerId));
      if (!inside.links.some((l) => l.name === ep.ifname)) {
        await s.delete(host.index);
        host = undefined;
      }
    }
    if (!host) {
      await s.createVeth(ep.hostIfname, ep.ifname, ep.mac, this.sandboxPath(containerId), br.index);
      host = await s.byName(ep.hostIfname);
      if (!host) throw new Error(`veth ${ep.hostIfname} vanished after creation`);
      await s.setHairpin(host.index);
    }
    if (!host.up) await s.setUp(host.index);
    await this.sandbox.configure(this.sandboxPath(containerId), {
      ifname: ep.ifname,
      address: ep.address,
      prefixLen: ep.prefixLen,
      gateway: rec.gateway,
      defaultRoute: ep.defaultRoute,
    });
  }

  private endpointResult(rec: NetworkRecord, ep: EndpointRecord): EndpointResult {
    return { network: rec.name, address: ep.address, prefixLen: ep.prefixLen, gateway: rec.gateway, mac: ep.mac, ifname: ep.ifname };
  }

  /** Removes one endpoint (lease and veth); records failures instead of throwing. Caller holds the lock. */
  private async detach(containerId: string, network: string, failures: string[]): Promise<void> {
    const rec = this.store.get(network);
    const ep = rec?.endpoints[containerId];
    if (!rec || !ep) return;
    await this.removeLink(ep.hostIfname, failures);
    await this.forget([{ address: ep.address }], failures);
    delete rec.endpoints[containerId];
    try {
      this.store.put(rec);
    } catch (e) {
      failures.push(errMessage(e));
    }
  }

  /**
   * Deletes the links that exist among `names` (absent ones are done): one alone directly, several
   * as one device group (rtnl.ts deleteLinksAsGroup), falling back to one by one. Failures by name.
   */
  private async removeLinks(names: string[]): Promise<Map<string, string>> {
    const failures = new Map<string, string>();
    if (!names.length) return failures;
    let all: LinkSummary[], found: LinkSummary[];
    try {
      const want = new Set(names);
      all = await this.links.list();
      found = all.filter((l) => want.has(l.name));
    } catch (e) {
      for (const n of names) failures.set(n, errMessage(e));
      return failures;
    }
    if (found.length > 1) {
      try {
        const used = new Set(all.map((l) => l.group));
        let group: number;
        do group = 0x10000 + (randomBytes(4).readUInt32LE(0) % 0x7ffe0000); while (used.has(group));
        await this.links.deleteGroup(found.map((l) => l.index), group);
        return failures; // the kernel deletes a group all or nothing
      } catch {
        // one by one below (a link already gone answers ENODEV)
      }
    }
    for (const l of found) {
      try {
        await this.links.delete(l.index);
      } catch (e) {
        if (!/ENODEV/.test(errMessage(e))) failures.set(l.name, errMessage(e));
      }
    }
    return failures;
  }

  private async removeLink(name: string, failures: string[]): Promise<void> {
    try {
      const l = await this.links.byName(name);
      if (l) await this.links.delete(l.index);
    } catch (e) {
      failures.push(`delete link ${name}: ${errMessage(e)}`);
    }
  }

  private async removeBridge(rec: NetworkRecord, failures: string[]): Promise<void> {
    await this.removeLink(rec.bridge, failures);
  }

  /**
   * Moves published ports in the maps in place (cost grows with the change, not
   * with the number of ports); when that fails (table missing or drifted from
   * the state) the whole table is rebuilt from the state instead.
   */
  private async syncPorts(before: PortRecord[], after: PortRecord[]): Promise<void> {
    const key = (p: PortRecord) => `${p.hostIp ?? ''}|${p.protocol}|${p.hostPort}|${p.address}|${p.containerPort}`;
    const was = new Set(before.map(key));
    const will = new Set(after.map(key));
    const removed = before.filter((p) => !will.has(key(p)));
    const added = after.filter((p) => !was.has(key(p)));
    if (!removed.length && !added.length) return;
    try {
      this.firewall.run(portElementsBatch(removed, added, this.table));
    } catch {
      await this.syncFirewall();
      return;
    }
    if (this.socketLb.cgroup) this.socketLb.apply(this.lbEntries(this.store.ports()), this.lbEntries(removed), this.lbEntries(added));
  }

  /** Published ports as socket-level translations (IPv4 host addresses only; any-address ones match loopback). */
  private lbEntries(ports: PortRecord[]): ForwardEntry[] {
    if (!this.socketLb.cgroup || !ports.length) return [];
    const netnsCookie = this.socketLb.netnsCookie();
    return ports.flatMap((p): ForwardEntry[] => {
      if ((p.protocol !== 'tcp' && p.protocol !== 'udp') || isIP(p.address) !== 4) return [];
      if (!isAnyHost(p.hostIp) && isIP(p.hostIp!) !== 4) return [];
      return [{ netnsCookie, hostIp: isAnyHost(p.hostIp) ? undefined : p.hostIp, hostPort: p.hostPort, protocol: p.protocol, address: p.address, containerPort: p.containerPort }];
    });
  }

  /** The networks whose bridges live in this namespace, and their ports (health.ts localRules). */
  private async localState(): Promise<ReturnType<typeof localRules>> {
    const all = this.store.list();
    return localRules(all, this.store.ports(), all.length ? new Set((await this.links.list()).map((l) => l.name)) : new Set());
  }

  /**
   * Makes the nftables table match the state; removes it when no network is left. No-op when it already
   * matches; `changed`: the caller knows it does not (the rebuild batch replaces the table whole, so
   * the listing and comparison, two dumps of ~30 netlink messages, are skipped).
   */
  private async syncFirewall(o: { changed?: boolean } = {}): Promise<void> {
    const { nets, ports, rules } = await this.localState();
    // the translation follows the state whatever the table needs (it only ever narrows to what is published)
    this.socketLb.sync(this.lbEntries(ports));
    if (nets.length === 0) {
      // the last network gone (every `down`): the table goes whatever it holds, in one batch that also
      // holds when it is missing (`add` is a no-op on an existing table), not after a listing of it
      // (two dumps, ~30 netlink messages)
      this.firewall.run([{ add: { table: { family: FAMILY, name: this.table } } }, ...deleteBatch(this.table)]);
      return;
    }
    const objs = buildTable(rules, ports, this.table);
    if (!o.changed) {
      const existing = this.firewall.listTable(FAMILY, this.table);
      if (existing && canonical(existing) === canonical(objs)) return;
    }
    this.firewall.run(toBatch(objs));
  }

  // ------------------------------------------------------------ health: the kernel, not only the records

  /**
   * What the kernel lacks of what the records say, for the networks named (one link dump, one table
   * listing): a bridge missing or down, a running container's veth gone or off its bridge (a bridge
   * deleted and made again), the nftables table missing or not what the records render (`nft flush
   * ruleset`, a firewall reload).
   */
  async faults(names: string[]): Promise<Fault[]> {
    return networkFaults({ store: this.store, runRoot: this.runRoot, table: this.table, nft: this.firewall, links: () => this.links.list(), pinned: () => this.sandbox.pinned() }, names);
  }

  /**
   * Makes the kernel match the records again for the networks named: bridges with
   * their gateway, every running container's veth made again or put back on its bridge, then the
   * nftables table rebuilt with every published port and rule. Idempotent.
   */
  async repair(names: string[]): Promise<void> {
    return this.store.withLock(async () => {
      // only those named: a network whose bridge lives in another namespace is not made here
      const recs = names.map((n) => this.store.get(n)).filter((r): r is NetworkRecord => !!r);
      const pinned = this.sandbox.pinned();
      const failures: string[] = [];
      for (const rec of recs) {
        try {
          await this.ensureKernel(rec);
          const br = await this.links.byName(rec.bridge);
          for (const [id, ep] of Object.entries(rec.endpoints)) {
            if (!pinned.has(this.sandboxPath(id))) continue; // a lease whose container is gone: nothing to wire
            const host = await this.links.byName(ep.hostIfname);
            if (host && br && host.master !== br.index) {
              await this.links.setMaster(host.index, br.index);
              await this.links.setHairpin(host.index);
              if (!host.up) await this.links.setUp(host.index);
            } else if (!host) await this.plumb(id, rec, ep);
          }
        } catch (e) {
          failures.push(`network "${rec.name}": ${errMessage(e)}`);
        }
      }
      try {
        await this.syncFirewall();
      } catch (e) {
        failures.push(errMessage(e));
      }
      if (failures.length) {
        throw new TsstackError('NETWORK', `repairing the networks failed: ${failures[0]}`, { details: failures, hint: 'run with --debug for details; `tsstack up --force-recreate` makes the containers\' networking anew' });
      }
    });
  }

  private wrap(e: unknown, what: string, undo: string[]): TsstackError {
    const details = undo.length ? [`cleanup after the failure also failed: ${undo.join('; ')}`] : [];
    if (e instanceof TsstackError) {
      return undo.length ? new TsstackError(e.code, e.message, { hint: e.hint, details: [...e.details, ...details], cause: e }) : e;
    }
    return new TsstackError('NETWORK', `${what}: ${errMessage(e)}`, { details, cause: e, hint: 'run with --debug for details; tsstack needs root for network setup' });
  }
}

