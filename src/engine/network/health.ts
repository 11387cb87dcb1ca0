// The cheap look behind a network's records (issue 13: observe the real state, not only the
// records): which bridges exist in this network namespace, whether the running containers' veths
// are still on them, and whether the nftables table is what the records render. One link dump
// over a raw rtnetlink socket (libc through koffi: the `netlink` package alone costs ~100 ms to
// load, more than the whole check) and one table listing. Repairs go through NetworkManager.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import type { Fault } from '../api.js';
import { Nft } from './nft.js';
import { FAMILY, buildTable, canonical } from './nft-rules.js';
import type { NetworkRecord, NetworkStore, PortRecord } from './state.js';

export interface LinkFact {
  index: number;
  name: string;
  master?: number;
  up: boolean;
}

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;
const NLM_F_REQUEST = 1;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;
const IFF_UP = 1;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;

interface Sys {
  socket(domain: number, type: number, protocol: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  close(fd: number): number;
}
let sys: Sys | undefined;
function libc(): Sys {
  if (!sys) {
    const l = koffi.load('libc.so.6');
    sys = {
      socket: l.func('int socket(int domain, int type, int protocol)'),
      send: l.func('long send(int fd, const void *buf, size_t len, int flags)'),
      recv: l.func('long recv(int fd, _Out_ void *buf, size_t len, int flags)'),
      setsockopt: l.func('int setsockopt(int fd, int level, int name, const void *value, unsigned int len)'),
      close: l.func('int close(int fd)'),
    };
  }
  return sys;
}

/** Parses RTM_NEWLINK messages of a dump reply; whether the dump ended (DONE). Pure. */
export function parseLinkDump(buf: Buffer, out: LinkFact[]): boolean {
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    const type = buf.readUInt16LE(off + 4);
    if (len < 16 || off + len > buf.length) break;
    if (type === NLMSG_DONE) return true;
    if (type === NLMSG_ERROR) throw new Error(`link dump: netlink error ${-buf.readInt32LE(off + 16)}`);
    if (type === RTM_NEWLINK && len >= 32) {
      const link: LinkFact = { index: buf.readInt32LE(off + 20), name: '', up: (buf.readUInt32LE(off + 24) & IFF_UP) !== 0 };
      for (let a = off + 32; a + 4 <= off + len;) {
        const alen = buf.readUInt16LE(a);
        const atype = buf.readUInt16LE(a + 2) & 0x3fff;
        if (alen < 4) break;
        if (atype === IFLA_IFNAME) link.name = buf.toString('utf8', a + 4, a + alen).replace(/\0+$/, '');
        else if (atype === IFLA_MASTER && alen >= 8) link.master = buf.readUInt32LE(a + 4);
        a += (alen + 3) & ~3;
      }
      out.push(link);
    }
    off += (len + 3) & ~3;
  }
  return false;
}

/** Every link of this network namespace: one RTM_GETLINK dump. */
export function dumpLinks(): LinkFact[] {
  const c = libc();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new Error(`link dump: socket failed (errno ${koffi.errno()})`);
  try {
    // a kernel that never answers is a failure in 2 s, never a hang
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(2n, 0);
    c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length);
    const req = Buffer.alloc(32);
    req.writeUInt32LE(32, 0);
    req.writeUInt16LE(RTM_GETLINK, 4);
    req.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
    req.writeUInt32LE(1, 8);
    if (c.send(fd, req, req.length, 0) !== req.length) throw new Error(`link dump: send failed (errno ${koffi.errno()})`);
    const out: LinkFact[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = Number(c.recv(fd, buf, buf.length, 0));
      if (n <= 0) throw new Error(`link dump: recv failed (errno ${koffi.errno()})`);
      if (parseLinkDump(buf.subarray(0, n), out)) return out;
    }
  } finally {
    c.close(fd);
  }
}

/** Mount points of this process's mount namespace (pinned sandboxes are bind mounts). */
export function mountPoints(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.add(f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/**
 * The networks whose bridges live in this network namespace, their published ports and the rules
 * they render. One root may be used from several namespaces (a demo in an isolated one, then the
 * host): each one's table holds its own networks only, so neither renders the other's and neither
 * sees the other's as drift. Pure.
 */
export function localRules(all: NetworkRecord[], ports: PortRecord[], here: Set<string>): { nets: NetworkRecord[]; ports: PortRecord[]; rules: Parameters<typeof buildTable>[0] } {
  const nets = all.filter((n) => here.has(n.bridge));
  const members = new Set(nets.flatMap((n) => Object.keys(n.endpoints)));
  return {
    nets,
    ports: ports.filter((p) => members.has(p.containerId)),
    rules: nets.map((n) => ({ name: n.name, bridge: n.bridge, subnet: n.subnet, internal: n.internal })),
  };
}

export interface HealthContext {
  store: NetworkStore;
  runRoot: string;
  table: string;
  /** A libnftables context to reuse (else one is made and freed). */
  nft?: Pick<Nft, 'listTable'>;
  /** The links of this namespace (default: one raw dump, dumpLinks). */
  links?: () => LinkFact[] | Promise<LinkFact[]>;
  /** Mount points of this mount namespace (default: mountPoints). */
  pinned?: () => Set<string>;
}

/**
 * What the kernel lacks of what the records say, for the networks named: a bridge missing or down,
 * a running container's veth gone or off its bridge (a bridge deleted and made again), the nftables
 * table missing or not what the records render (`nft flush ruleset`, a firewall reload).
 */
export async function networkFaults(ctx: HealthContext, names: string[]): Promise<Fault[]> {
  const recs = [...new Set(names)].sort().map((n) => ctx.store.get(n)).filter((r): r is NetworkRecord => !!r);
  if (!recs.length) return [];
  const out: Fault[] = [];
  const links = new Map((await (ctx.links ?? dumpLinks)()).map((l) => [l.name, l]));
  const pinned = (ctx.pinned ?? mountPoints)();
  for (const rec of recs) {
    const resource = `network:${rec.name}`;
    const br = links.get(rec.bridge);
    if (!br) {
      out.push({ resource, cause: `bridge ${rec.bridge} missing` });
      continue;
    }
    const loose = Object.entries(rec.endpoints).filter(([id, ep]) => pinned.has(join(ctx.runRoot, 'netns', id)) && links.get(ep.hostIfname)?.master !== br.index);
    if (!br.up) out.push({ resource, cause: `bridge ${rec.bridge} down` });
    else if (loose.length) out.push({ resource, cause: `${loose.length} container link${loose.length > 1 ? 's' : ''} off bridge ${rec.bridge}` });
  }
  const { nets, ports, rules } = localRules(ctx.store.list(), ctx.store.ports(), new Set(links.keys()));
  if (nets.length) {
    const own = ctx.nft ? undefined : new Nft();
    try {
      const existing = (ctx.nft ?? own!).listTable(FAMILY, ctx.table);
      if (!existing) out.push({ resource: 'firewall', cause: `nftables table ${FAMILY} ${ctx.table} missing` });
      else if (canonical(existing) !== canonical(buildTable(rules, ports, ctx.table))) out.push({ resource: 'firewall', cause: `nftables table ${FAMILY} ${ctx.table} differs from the records` });
    } finally {
      own?.close();
    }
  }
  return out;
}
