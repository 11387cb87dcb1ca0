// Address management: which subnet a new network gets and which address a new
// endpoint gets. Pure: the caller gathers what is taken (host routes, resolvers,
// other networks, current leases) and persists the result.

import { TsstackError } from '../../util/errors.js';
import { type Cidr, contains, firstHost, formatCidr, intToIp, ipToInt, lastHost, overlaps, parseCidr, size } from './cidr.js';

export const DEFAULT_POOL = '10.89.0.0/16';
export const DEFAULT_SUBNET_PREFIX = 24;

/** Something that already uses address space, named for error messages. */
export interface Taken {
  cidr: Cidr;
  /** e.g. `host route 10.0.0.0/8 on eth0`, `network demo_default`, `DNS server 10.0.0.53`. */
  owner: string;
}

/** First /prefix of the pool that overlaps nothing taken; deterministic (lowest first). */
export function pickSubnet(taken: Taken[], pool = DEFAULT_POOL, prefix = DEFAULT_SUBNET_PREFIX): Cidr {
  const p = parseCidr(pool, 'address pool');
  const step = 2 ** (32 - prefix);
  for (let base = p.base; base + step <= p.base + size(p); base += step) {
    const c: Cidr = { base, prefix };
    if (!taken.some((t) => overlaps(t.cidr, c))) return c;
  }
  throw new TsstackError('NETWORK', `no free /${prefix} subnet left in the address pool ${pool}`, {
    hint: 'remove unused networks (tsstack network prune) or give the network an explicit ipam subnet',
  });
}

/** The first taken range that overlaps `c`, if any. */
export function findOverlap(c: Cidr, taken: Taken[]): Taken | undefined {
  return taken.find((t) => overlaps(t.cidr, c));
}

export interface SubnetChoice {
  subnet: Cidr;
  gateway: number;
}

/**
 * Validates a requested subnet/gateway (or picks them) for network `name`.
 * Errors name both the network and what it collides with.
 */
export function chooseSubnet(name: string, req: { subnet?: string; gateway?: string }, taken: Taken[]): SubnetChoice {
  let subnet: Cidr;
  if (req.subnet) {
    subnet = parseCidr(req.subnet, `subnet of network "${name}"`);
    if (subnet.prefix > 30) {
      throw new TsstackError('NETWORK', `subnet ${req.subnet} of network "${name}" is too small: a /${subnet.prefix} leaves no room for a gateway and containers`, { hint: 'use a prefix of /30 or shorter' });
    }
    const clash = findOverlap(subnet, taken);
    if (clash) {
      throw new TsstackError('CONFLICT', `subnet ${formatCidr(subnet)} of network "${name}" overlaps ${clash.owner}`, {
        hint: 'choose another ipam subnet, or leave it out to get a free one from 10.89.0.0/16',
      });
    }
  } else {
    subnet = pickSubnet(taken);
  }
  let gateway = firstHost(subnet);
  if (req.gateway) {
    gateway = ipToInt(req.gateway, `gateway of network "${name}"`);
    if (!contains(subnet, gateway) || gateway < firstHost(subnet) || gateway > lastHost(subnet)) {
      throw new TsstackError('NETWORK', `gateway ${req.gateway} of network "${name}" is not a host address of its subnet ${formatCidr(subnet)}`, {
        hint: `pick an address between ${intToIp(firstHost(subnet))} and ${intToIp(lastHost(subnet))}`,
      });
    }
  }
  return { subnet, gateway };
}

/**
 * An address for a new endpoint: the requested one (checked) or the lowest free.
 * `used` maps taken addresses to their holder (container id), for messages.
 */
export function allocateAddress(network: string, subnet: Cidr, gateway: number, used: Map<number, string>, requested?: string): number {
  if (requested !== undefined) {
    const a = ipToInt(requested, `ipv4_address on network "${network}"`);
    if (!contains(subnet, a) || a < firstHost(subnet) || a > lastHost(subnet)) {
      throw new TsstackError('NETWORK', `ipv4_address ${requested} is outside network "${network}" (subnet ${formatCidr(subnet)})`, {
        hint: `pick an address between ${intToIp(firstHost(subnet))} and ${intToIp(lastHost(subnet))}`,
      });
    }
    if (a === gateway) throw new TsstackError('CONFLICT', `ipv4_address ${requested} is the gateway of network "${network}"`, { hint: 'pick another address' });
    const holder = used.get(a);
    if (holder !== undefined) throw new TsstackError('CONFLICT', `ipv4_address ${requested} on network "${network}" is already leased to container ${holder}`, { hint: 'pick another address or remove that container' });
    return a;
  }
  for (let a = firstHost(subnet); a <= lastHost(subnet); a++) {
    if (a !== gateway && !used.has(a)) return a;
  }
  throw new TsstackError('NETWORK', `network "${network}" (subnet ${formatCidr(subnet)}) has no free address left`, { hint: 'use a larger subnet or remove containers from it' });
}

/** Docker's convention: a locally administered MAC derived from the IPv4 address (02:42:a.b.c.d). */
export function macFor(addr: number): string {
  const b = [0x02, 0x42, addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
