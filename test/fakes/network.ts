// In-memory network drivers (src/engine/network/drivers.ts) for NetworkManager's unit tests. They keep
// state as the kernel would: the firewall holds tables, maps and their elements (a batch applies whole
// or not at all); the links hold bridges, veths, addresses and sysctls; the sandbox holds pinned
// namespaces with the veth ends moved into them, and unpinning one destroys its veths (as the kernel
// does). Every call is logged in `calls` ("links.createBridge tss-…"), shared by all of them, so a
// test can assert what was done and undone. `failOn(name)` makes a named call fail.

import type { Firewall, HostPorts, Links, NetworkDrivers, Sandbox, SocketPrograms } from '../../src/engine/network/drivers.js';
import type { Taken } from '../../src/engine/network/ipam.js';
import type { NftCommand, NftObject } from '../../src/engine/network/nft.js';
import type { DnatTarget } from '../../src/engine/network/conntrack.js';
import type { LinkSummary } from '../../src/engine/network/rtnl.js';
import type { NsInspect } from '../../src/engine/network/ns-enter.js';
import type { Listener } from '../../src/engine/network/ports.js';
import type { SocketLbStatus } from '../../src/engine/network/socket-lb.js';
import type { ForwardEntry } from '../../src/engine/network/socket-lb-programs.js';

type Obj = Record<string, any>;

/** Failures to inject, by call name ("firewall.run", "links.createVeth"…): the next `times` calls throw. */
export class Faults {
  private want = new Map<string, { message: string; times: number }>();
  constructor(public calls: string[]) {}

  set(name: string, message: string, times: number): void {
    this.want.set(name, { message, times });
  }

  /** Logs the call, then throws when a failure is armed for it. */
  hit(name: string, detail = ''): void {
    this.calls.push(detail ? `${name} ${detail}` : name);
    const f = this.want.get(name);
    if (!f) return;
    if (--f.times <= 0) this.want.delete(name);
    throw new Error(f.message);
  }
}

const tableKey = (family: string, name: string) => `${family} ${name}`;

export class FakeFirewall implements Firewall {
  /** family+name → the table's objects in listing shape (first the table itself). */
  tables = new Map<string, Obj[]>();
  forgotten: DnatTarget[] = [];
  constructor(private readonly f: Faults) {}

  run(commands: NftCommand[]): NftObject[] {
    this.f.hit('firewall.run', commands.map((c) => Object.keys(c)[0] + ' ' + Object.keys(Object.values(c)[0] as Obj)[0]).join(','));
    // one transaction: applied to a copy, kept only when every command succeeds
    const next = new Map([...this.tables].map(([k, v]) => [k, structuredClone(v)]));
    const out: NftObject[] = [];
    for (const c of commands) out.push(...this.apply(next, c as Obj));
    this.tables = next;
    return out;
  }

  private apply(t: Map<string, Obj[]>, c: Obj): NftObject[] {
    const [verb, what] = Object.entries(c)[0] as [string, Obj];
    const [kind, o] = Object.entries(what)[0] as [string, Obj];
    if (verb === 'list') {
      if (kind === 'tables') return [...t.values()].filter((objs) => objs[0]!.table.family === o.family).map((objs) => objs[0]!);
      const objs = t.get(tableKey(o.family, o.name));
      if (!objs) throw new Error(`list table ${o.name}: No such file or directory`);
      return structuredClone(objs);
    }
    if (kind === 'table') {
      const k = tableKey(o.family, o.name);
      if (verb === 'add') {
        if (!t.has(k)) t.set(k, [{ table: { family: o.family, name: o.name } }]);
      } else if (verb === 'delete') {
        if (!t.delete(k)) throw new Error(`delete table ${o.name}: No such file or directory`);
      }
      return [];
    }
    const objs = t.get(tableKey(o.family, o.table));
    if (!objs) throw new Error(`${verb} ${kind} in table ${o.table}: No such file or directory`);
    if (kind === 'element') {
      const m = objs.find((x) => (x.map ?? x.set)?.name === o.name);
      if (!m) throw new Error(`${verb} element: no map ${o.name}`);
      const inner = m.map ?? m.set;
      const elems: unknown[] = inner.elem ?? [];
      for (const e of o.elem as unknown[]) {
        const key = JSON.stringify(Array.isArray(e) && inner === m.map ? e[0] : e);
        const at = elems.findIndex((x) => JSON.stringify(Array.isArray(x) && inner === m.map ? x[0] : x) === key);
        if (verb === 'add') {
          if (at >= 0 && JSON.stringify(elems[at]) !== JSON.stringify(e)) throw new Error(`add element ${o.name} ${key}: File exists`);
          if (at < 0) elems.push(e);
        } else if (at < 0) throw new Error(`delete element ${o.name} ${key}: No such file or directory`);
        else elems.splice(at, 1);
      }
      if (elems.length) inner.elem = elems;
      else delete inner.elem;
      return [];
    }
    if (verb === 'add') objs.push(structuredClone(what));
    return [];
  }

  listTable(family: string, name: string): NftObject[] | undefined {
    this.f.hit('firewall.listTable', name);
    const objs = this.tables.get(tableKey(family, name));
    return objs && structuredClone(objs);
  }

  async forget(targets: DnatTarget[]): Promise<number> {
    this.f.hit('firewall.forget', targets.map((x) => x.address).join(','));
    this.forgotten.push(...targets);
    return 0;
  }

  close(): void {}

  /** The elements of one map, as `key → data` text ("127.0.0.1.tcp.8080 → 10.89.0.2"), sorted. */
  elements(table: string, map: string): string[] {
    const objs = this.tables.get(tableKey('inet', table)) ?? [];
    const m = objs.find((x) => x.map?.name === map)?.map;
    const text = (k: any) => (k?.concat ? k.concat.join('.') : String(k));
    return ((m?.elem ?? []) as [unknown, unknown][]).map(([k, v]) => `${text(k)} → ${v}`).sort();
  }

  /** Drops a table as `nft flush ruleset` would. */
  flush(): void {
    this.tables.clear();
  }
}

interface FakeLink extends LinkSummary {
  mac?: string;
  /** A veth's other end: the sandbox it lives in and its name there. */
  peer?: { sandbox: string; name: string };
}

export class FakeLinks implements Links {
  links = new Map<string, FakeLink>([['lo', { index: 1, name: 'lo', up: true, group: 0 }]]);
  addrs: { index: number; address: string; prefixLen: number }[] = [{ index: 1, address: '127.0.0.1', prefixLen: 8 }];
  sysctls = new Map<string, string>();
  /** What hostTaken answers besides nothing: host routes and resolvers a test puts there. */
  hostUses: Taken[] = [];
  private next = 2;
  sandbox!: FakeSandbox;
  constructor(private readonly f: Faults) {}

  private byIndex(index: number): FakeLink | undefined {
    return [...this.links.values()].find((l) => l.index === index);
  }

  private summary(l: FakeLink): LinkSummary {
    const { mac: _m, peer: _p, ...s } = l;
    return { ...s };
  }

  async list(): Promise<LinkSummary[]> {
    this.f.hit('links.list');
    return [...this.links.values()].sort((a, b) => a.index - b.index).map((l) => this.summary(l));
  }
  async byName(name: string): Promise<LinkSummary | undefined> {
    const l = this.links.get(name);
    return l && this.summary(l);
  }
  async addresses() {
    return this.addrs.map((a) => ({ ...a }));
  }
  async createBridge(name: string, mac: string): Promise<void> {
    this.f.hit('links.createBridge', name);
    if (this.links.has(name)) throw new Error(`create bridge ${name}: EEXIST`);
    this.links.set(name, { index: this.next++, name, kind: 'bridge', up: false, group: 0, mac });
  }
  async createVeth(hostName: string, peerName: string, peerMac: string, sandboxPath: string, master: number): Promise<void> {
    this.f.hit('links.createVeth', `${hostName} ${peerName}`);
    if (this.links.has(hostName)) throw new Error(`create veth ${hostName}: EEXIST`);
    const ns = this.sandbox.namespaces.get(sandboxPath);
    if (!ns) throw new Error(`open ${sandboxPath}: ENOENT`);
    if (ns.links.some((l) => l.name === peerName)) throw new Error(`create veth peer ${peerName}: EEXIST`);
    this.links.set(hostName, { index: this.next++, name: hostName, kind: 'veth', master, up: false, group: 0, peer: { sandbox: sandboxPath, name: peerName } });
    ns.links.push({ index: this.next++, name: peerName, kind: 'veth', up: false, mac: peerMac });
  }
  async addAddress(index: number, address: string, prefixLen: number): Promise<void> {
    this.f.hit('links.addAddress', address);
    if (!this.byIndex(index)) throw new Error('add address: ENODEV');
    this.addrs.push({ index, address, prefixLen });
  }
  async setUp(index: number): Promise<void> {
    const l = this.byIndex(index);
    if (!l) throw new Error('set up: ENODEV');
    l.up = true;
  }
  async setHairpin(index: number): Promise<void> {
    if (!this.byIndex(index)) throw new Error('set hairpin: ENODEV');
  }
  async setMaster(index: number, master: number): Promise<void> {
    this.f.hit('links.setMaster', String(index));
    const l = this.byIndex(index);
    if (!l) throw new Error('set master: ENODEV');
    l.master = master;
  }
  async delete(index: number): Promise<void> {
    const l = this.byIndex(index);
    this.f.hit('links.delete', l?.name ?? String(index));
    if (!l) throw new Error('delete link: ENODEV');
    this.drop(l);
  }
  async deleteGroup(indices: number[], group: number): Promise<void> {
    const ls = indices.map((i) => this.byIndex(i));
    this.f.hit('links.deleteGroup', ls.map((l) => l?.name).join(','));
    if (ls.some((l) => !l)) throw new Error('delete group: ENODEV');
    for (const l of ls) l!.group = group;
    for (const l of ls) this.drop(l!);
  }
  /** A link gone as the kernel takes it: its addresses, a veth's peer, a bridge's ports' master. */
  drop(l: FakeLink): void {
    this.links.delete(l.name);
    this.addrs = this.addrs.filter((a) => a.index !== l.index);
    if (l.peer) {
      const ns = this.sandbox.namespaces.get(l.peer.sandbox);
      if (ns) ns.links = ns.links.filter((x) => x.name !== l.peer!.name);
    }
    for (const p of this.links.values()) if (p.master === l.index) delete p.master;
  }
  async names(): Promise<Set<string>> {
    return new Set(this.links.keys());
  }
  async hostTaken(): Promise<Taken[]> {
    return [...this.hostUses];
  }
  sysctl(key: string, value: string): void {
    this.sysctls.set(key, value);
  }
  close(): void {}
}

interface FakeNs {
  links: { index: number; name: string; kind?: string; up: boolean; mac?: string }[];
  addresses: { index: number; address: string; prefixLen: number }[];
  defaultRoute?: string;
  sysctls: Record<string, string>;
}

export class FakeSandbox implements Sandbox {
  /** Mount points: the pinned namespaces and the shared netns directory. */
  mounts = new Set<string>();
  namespaces = new Map<string, FakeNs>();
  /** Namespaces a stray process keeps alive after their pin goes (their veths stay). */
  held = new Set<string>();
  links!: FakeLinks;
  constructor(private readonly f: Faults) {}

  pinned(): Set<string> {
    return new Set(this.mounts);
  }
  isPinned(path: string): boolean {
    return this.mounts.has(path);
  }
  prepareDir(dir: string): void {
    this.mounts.add(dir);
  }
  releaseDir(dir: string): void {
    if (![...this.mounts].some((m) => m.startsWith(dir + '/'))) this.mounts.delete(dir);
  }
  async create(path: string): Promise<void> {
    this.f.hit('sandbox.create', path);
    this.mounts.add(path);
    this.namespaces.set(path, { links: [{ index: 1, name: 'lo', up: true }], addresses: [{ index: 1, address: '127.0.0.1', prefixLen: 8 }], sysctls: {} });
  }
  unpin(path: string): { pinned: boolean; failures: string[] } {
    this.f.hit('sandbox.unpin', path);
    const pinned = this.mounts.delete(path);
    if (pinned && !this.held.has(path)) {
      // the kernel destroys the namespace with its veths: their host ends go too
      for (const l of [...this.links.links.values()]) if (l.peer?.sandbox === path) this.links.drop(l);
      this.namespaces.delete(path);
    }
    return { pinned, failures: [] };
  }
  async configure(path: string, cfg: { ifname: string; address: string; prefixLen: number; gateway: string; defaultRoute: boolean }): Promise<void> {
    this.f.hit('sandbox.configure', `${path} ${cfg.ifname} ${cfg.address}`);
    const ns = this.namespaces.get(path);
    const l = ns?.links.find((x) => x.name === cfg.ifname);
    if (!ns || !l) throw new Error(`configure ${cfg.ifname}: ENODEV`);
    l.up = true;
    if (!ns.addresses.some((a) => a.index === l.index && a.address === cfg.address)) ns.addresses.push({ index: l.index, address: cfg.address, prefixLen: cfg.prefixLen });
    if (cfg.defaultRoute) ns.defaultRoute = cfg.gateway;
  }
  async sysctl(path: string, values: Record<string, string>): Promise<void> {
    const ns = this.namespaces.get(path);
    if (!ns) throw new Error(`sysctl in ${path}: ENOENT`);
    Object.assign(ns.sysctls, values);
  }
  async inspect(path: string): Promise<NsInspect> {
    const ns = this.namespaces.get(path);
    if (!ns) throw new Error(`inspect ${path}: ENOENT`);
    return { links: ns.links.map(({ mac: _m, ...l }) => ({ ...l })), addresses: ns.addresses.map((a) => ({ ...a })) };
  }
  async close(): Promise<void> {}
}

export class FakeSocketPrograms implements SocketPrograms {
  lastError?: string;
  /** The forward map, keyed like the real one (host address, protocol, port). */
  entries = new Map<string, ForwardEntry>();
  attached = false;
  constructor(private readonly f: Faults, readonly cgroup: string | undefined) {}

  private key(e: ForwardEntry): string {
    return `${e.hostIp ?? '*'}|${e.protocol}|${e.hostPort}`;
  }
  netnsCookie(): bigint {
    return 7n;
  }
  sync(entries: ForwardEntry[]): void {
    if (!this.cgroup) return;
    this.f.calls.push(`socketPrograms.sync ${entries.length}`);
    this.entries = new Map(entries.map((e) => [this.key(e), e]));
    this.attached = entries.length > 0;
  }
  apply(all: ForwardEntry[], removed: ForwardEntry[], added: ForwardEntry[]): void {
    if (!this.cgroup) return;
    if (!this.attached || !all.length) return this.sync(all);
    this.f.calls.push(`socketPrograms.apply -${removed.length} +${added.length}`);
    for (const e of removed) this.entries.delete(this.key(e));
    for (const e of added) this.entries.set(this.key(e), e);
  }
  status(): SocketLbStatus {
    return { cgroup: this.cgroup, hooks: this.attached ? ['connect4'] as SocketLbStatus['hooks'] : [], entries: this.entries.size };
  }
  close(): void {}
}

export class FakeHostPorts implements HostPorts {
  listening: (Listener & { owner?: string })[] = [];
  listeners(): Listener[] {
    return this.listening.map(({ owner: _o, ...l }) => l);
  }
  owners(inodes: Set<number>): Map<number, string> {
    return new Map(this.listening.filter((l) => inodes.has(l.inode)).map((l) => [l.inode, l.owner ?? `pid ${l.inode} (fake)`]));
  }
  /** A process listening on `port`. */
  listen(protocol: 'tcp' | 'udp', address: string, port: number, owner = 'pid 4242 (nginx)'): void {
    this.listening.push({ protocol, address, port, inode: 1000 + this.listening.length, owner });
  }
}

export interface FakeNetwork extends NetworkDrivers {
  firewall: FakeFirewall;
  links: FakeLinks;
  sandbox: FakeSandbox;
  socketPrograms: FakeSocketPrograms;
  hostPorts: FakeHostPorts;
  /** Every driver call in order. */
  calls: string[];
  /** The next `times` calls of `name` ("firewall.run", "links.createVeth", "sandbox.create"…) throw `message`. */
  failOn(name: string, message?: string, times?: number): void;
}

export function fakeNetworkDrivers(opts: { socketCgroup?: string | undefined } = {}): FakeNetwork {
  const calls: string[] = [];
  const f = new Faults(calls);
  const links = new FakeLinks(f);
  const sandbox = new FakeSandbox(f);
  links.sandbox = sandbox;
  sandbox.links = links;
  return {
    firewall: new FakeFirewall(f),
    links,
    sandbox,
    socketPrograms: new FakeSocketPrograms(f, 'socketCgroup' in opts ? opts.socketCgroup : '/fake/cgroup'),
    hostPorts: new FakeHostPorts(),
    calls,
    failOn: (name, message = `${name} failed (injected)`, times = 1) => f.set(name, message, times),
  };
}
