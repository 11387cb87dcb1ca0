// The cheap look behind a network's records (issue 13: observe the real state, not only the
// records): which bridges exist in this network namespace, whether the running containers' veths
// are still on them, and whether the nftables table is what the records render. One link dump
// over a raw rtnetlink socket (libc through koffi: the `netlink` package alone costs ~100 ms to
// load, more than the whole check) and one table listing. Repairs go through NetworkManager.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fault } from '../api.js';
import { Nft } from './nft.js';
import { FAMILY, buildTable, canonical } from './nft-rules.js';
import type { NetworkRecord, NetworkStore, PortRecord } from './state.js';

import { dumpLinks, type LinkFact } from './raw-rtnl.js';

export { dumpLinks, parseLinkDump, type LinkFact } from './raw-rtnl.js';

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
