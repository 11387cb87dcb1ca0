// Facts about the host (the namespace the engine runs in) that network
// decisions depend on: routed subnets, resolvers, mounts, sysctls.

import { readFileSync, writeFileSync } from 'node:fs';
import type { RtNetlinkSocket } from './rtnl.js';
import { listLinks, listRoutes } from './rtnl.js';
import { isIpv4, ipToInt, maskOf } from './cidr.js';
import type { Taken } from './ipam.js';

/** Subnets routed on the host (default routes excluded), except on the given interfaces (our own bridges). */
export async function hostRoutes(s: RtNetlinkSocket, exceptIfnames: Set<string>): Promise<Taken[]> {
  const names = new Map((await listLinks(s)).map((l) => [l.index, l.name]));
  const out: Taken[] = [];
  for (const r of await listRoutes(s)) {
    if (r.dstLen === 0) continue;
    const dev = r.oif !== undefined ? names.get(r.oif) : undefined;
    if (dev && exceptIfnames.has(dev)) continue;
    const base = (ipToInt(r.dst) & maskOf(r.dstLen)) >>> 0;
    out.push({ cidr: { base, prefix: r.dstLen }, owner: `host route ${r.dst}/${r.dstLen}${dev ? ` on ${dev}` : ''}` });
  }
  return out;
}

/** IPv4 nameservers of resolv.conf text. Pure. */
export function parseResolvConf(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((a): a is string => !!a && isIpv4(a));
}

export function hostResolvers(path = '/etc/resolv.conf'): Taken[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return parseResolvConf(text).map((a) => ({ cidr: { base: ipToInt(a), prefix: 32 }, owner: `the host's DNS server ${a} (${path})` }));
}

// (one implementation, in the light module the health check loads)
export { mountPoints } from './health.js';

/** Sets a sysctl of the engine's own namespace when it differs; `net.ipv4.ip_forward` form. */
export function ensureSysctl(key: string, value: string): void {
  const path = `/proc/sys/${key.replace(/\./g, '/')}`;
  if (readFileSync(path, 'utf8').trim() !== value) writeFileSync(path, value);
}
