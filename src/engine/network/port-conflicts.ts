// Deciding whether host ports can be published. Pure: the caller passes what
// is already published (state) and what listens (/proc), and a lookup of the
// processes owning sockets, used only when there is a clash to report.

import { TsstackError } from '../../util/errors.js';
import type { PublishedPort } from '../api.js';
import { isAnyHost } from './nft-rules.js';
import { addressesClash, type Listener } from './ports.js';
import type { PortRecord } from './state.js';

export const EPHEMERAL_FIRST = 32768;
export const EPHEMERAL_LAST = 60999;

export function portLabel(p: { hostIp?: string; hostPort: number; protocol: string }): string {
  return `${isAnyHost(p.hostIp) ? '0.0.0.0' : p.hostIp}:${p.hostPort}/${p.protocol}`;
}

function sameSlot(a: { protocol: string; hostPort: number; hostIp?: string }, b: { protocol: string; hostPort: number; hostIp?: string }): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && addressesClash(a.hostIp ?? '0.0.0.0', isAnyHost(b.hostIp) ? undefined : b.hostIp);
}

function listens(l: Listener, p: { protocol: string; hostPort: number; hostIp?: string }): boolean {
  return l.protocol === p.protocol && l.port === p.hostPort && addressesClash(l.address, isAnyHost(p.hostIp) ? undefined : p.hostIp);
}

/**
 * Every reason `ports` cannot be published: bad numbers, a port asked twice, a
 * port another container publishes (`published`, the caller's own entries
 * already removed), a port a process listens on (named by `owners`), a host
 * address this host does not have (when `localAddresses` is given; 127/8 is
 * always local). Host port 0 (pick one) never clashes.
 */
export function portProblems(
  ports: PublishedPort[],
  published: PortRecord[],
  listeners: Listener[],
  owners: (inodes: Set<number>) => Map<number, string>,
  localAddresses?: Set<string>,
): string[] {
  const problems: string[] = [];
  for (const p of ports) {
    if (!Number.isInteger(p.hostPort) || p.hostPort < 0 || p.hostPort > 65535) problems.push(`host port ${p.hostPort} is not a port number (1-65535)`);
    if (!Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) problems.push(`container port ${p.containerPort} is not a port number (1-65535)`);
    if (p.hostIp && !isAnyHost(p.hostIp)) {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(p.hostIp)) problems.push(`host address ${p.hostIp} of ${portLabel(p)} is not supported (IPv4 only)`);
      else if (localAddresses && !p.hostIp.startsWith('127.') && !localAddresses.has(p.hostIp)) problems.push(`host address ${p.hostIp} of ${portLabel(p)} is not an address of this host`);
    }
  }
  const wanted = ports.filter((p) => p.hostPort !== 0);
  wanted.forEach((p, i) => {
    const dup = wanted.slice(0, i).find((q) => sameSlot(q, p));
    if (dup) problems.push(`host port ${portLabel(p)} is published twice (also as ${portLabel(dup)})`);
    const holder = published.find((q) => sameSlot(q, p));
    if (holder) problems.push(`host port ${portLabel(p)} is already published by container ${holder.containerId} (${portLabel(holder)} → ${holder.address}:${holder.containerPort})`);
  });
  const clashes = wanted.flatMap((p) => listeners.filter((l) => listens(l, p)).map((l) => ({ p, l })));
  if (clashes.length) {
    const who = owners(new Set(clashes.map((c) => c.l.inode)));
    for (const { p, l } of clashes) {
      const at = `${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}/${l.protocol}`;
      const msg = `host port ${portLabel(p)} is already in use by ${who.get(l.inode) ?? 'a process of another user or namespace'} listening on ${at}`;
      if (!problems.includes(msg)) problems.push(msg);
    }
  }
  return problems;
}

/** The lowest ephemeral port free for `p` (host port 0 = pick one). */
export function freePort(p: PublishedPort, published: PortRecord[], listeners: Listener[]): number {
  for (let port = EPHEMERAL_FIRST; port <= EPHEMERAL_LAST; port++) {
    const slot = { ...p, hostPort: port };
    if (!published.some((q) => sameSlot(q, slot)) && !listeners.some((l) => listens(l, slot))) return port;
  }
  throw new TsstackError('CONFLICT', `no free host port left for ${p.containerPort}/${p.protocol}`, { hint: 'publish it on an explicit host port' });
}
