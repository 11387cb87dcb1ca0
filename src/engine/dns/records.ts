// The DNS state the engine keeps (which container has which names on which network)
// and its rendering into the records file that tsstack-dns reads. Pure.
//
// Records file format (one directive a line; see native/dns/records.h):
//   serial N · ttl N · search DOMAIN · upstream ADDR PORT · net NETWORK GATEWAY[/LEN] [internal]
//   a NETWORK NAME ADDR · ptr NETWORK ADDR NAME
//   state NAME FILE   the container NAME (its ptr lines' name) is answered only while FILE, its
//                     monitor's state.json, says "running"; FILE is the rest of the line. Servers
//                     older than this directive ignore it (and keep answering).

import { isIP } from 'node:net';
import { isIpv4 } from '../network/cidr.js';
import { byCodeUnits as cmp } from '../../util/compare.js';

export interface DnsEndpoint {
  /** The container's address on the network (a `/len` suffix is ignored). */
  address: string;
  /** The container's IPv6 address on the network, when dual-stack (answers AAAA). */
  ipv6Address?: string;
  aliases?: string[];
}

export interface DnsContainer {
  id: string;
  name: string;
  service?: string;
  project?: string;
  networks: Record<string, DnsEndpoint>;
  /** The container's monitor state file (absolute). With it, tsstack-dns answers the container's
   *  names and addresses only while the file says it is running, so one that exits by itself (or
   *  waits to restart) goes quiet without anyone telling the engine. Without it: always answered. */
  stateFile?: string;
}

/** A network's gateway address (`10.89.0.1` or `10.89.0.1/24`), or that plus `internal`
 *  (an internal network's containers get local names only: nothing is forwarded). */
export type DnsNetwork = string | { gateway: string; internal?: boolean };

export function gatewayOf(n: DnsNetwork): string {
  return typeof n === 'string' ? n : n.gateway;
}

export interface DnsState {
  version: 1;
  /** Bumped on every change; the server reports the serial it has loaded. */
  serial: number;
  /** Network name → where the server answers for it. */
  networks: Record<string, DnsNetwork>;
  containers: Record<string, DnsContainer>;
}

export interface Upstream {
  address: string;
  port: number;
}

export interface RenderOptions {
  /** Suffixes stripped before a local lookup (the host's search domains). */
  search?: string[];
  /** Resolvers to forward to; empty = the server reads the host's resolv.conf. */
  upstreams?: Upstream[];
  ttl?: number;
}

export function emptyState(): DnsState {
  return { version: 1, serial: 0, networks: {}, containers: {} };
}

/** A name the records file can carry: no whitespace, labels of 1–63 characters, ≤ 253 in all. */
export function isRecordName(name: string): boolean {
  if (name.length === 0 || name.length > 253 || /[\s#]/.test(name)) return false;
  const labels = name.replace(/\.$/, '').split('.');
  return labels.every((l) => l.length >= 1 && l.length <= 63);
}

function normName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** A state file path the records file can carry: absolute, a file name after the last `/`, one line,
 *  no surrounding whitespace (the server takes the rest of the line and trims it). */
export function isStateFilePath(path: string): boolean {
  return /^\/(?:[^\n\r]*\/)?[^\n\r/]+$/.test(path) && path.trim() === path;
}

function bareAddress(address: string): string | undefined {
  const a = address.replace(/\/\d+$/, '');
  // an IPv4 address without node:net, which loads node:stream with it (~3 ms of a command)
  return isIpv4(a) || (a.includes(':') && isIP(a) === 6) ? a : undefined;
}

/** Names a container answers to on one network, in the order Docker documents them:
 *  container name, short id, service, `<service>.<project>`, then aliases. Lower case, unique. */
export function containerNames(c: DnsContainer, network: string): string[] {
  const names = [c.name];
  if (/^[0-9a-f]{13,}$/i.test(c.id)) names.push(c.id.slice(0, 12));
  if (c.service) {
    names.push(c.service);
    if (c.project) names.push(`${c.service}.${c.project}`);
  }
  names.push(...(c.networks[network]?.aliases ?? []));
  const out: string[] = [];
  for (const n of names.map(normName)) if (isRecordName(n) && !out.includes(n)) out.push(n);
  return out;
}

/** Parses `addr`, `addr:port`, `[v6]:port` or a bare IPv6 address. */
export function parseUpstream(s: string): Upstream | undefined {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) return isIP(bracket[1]) === 6 ? { address: bracket[1], port: bracket[2] ? Number(bracket[2]) : 53 } : undefined;
  if (isIP(s)) return { address: s, port: 53 };
  const m = /^([^:]+):(\d+)$/.exec(s);
  if (m && isIP(m[1]) === 4) return { address: m[1], port: Number(m[2]) };
  return undefined;
}

/** The records file for `state`. Deterministic: sorted by network, then name, then address.
 *  Containers on networks that have no gateway yet are left out until it is set. */
export function renderRecords(state: DnsState, opts: RenderOptions = {}): string {
  const lines = ['# tsstack-dns records (written by tsstack; changes are reloaded at once)', `serial ${state.serial}`, `ttl ${opts.ttl ?? 5}`];
  for (const s of [...new Set((opts.search ?? []).map(normName))].filter(isRecordName).sort(cmp)) lines.push(`search ${s}`);
  for (const u of opts.upstreams ?? []) lines.push(`upstream ${u.address} ${u.port}`);
  const nets = Object.keys(state.networks).filter((n) => isRecordName(n)).sort(cmp);
  const gateways = new Set<string>();
  const known = new Set<string>();
  for (const n of nets) {
    const spec = state.networks[n];
    const gw = gatewayOf(spec);
    const bare = bareAddress(gw);
    if (!bare || gateways.has(bare)) continue;  // the server refuses a file with a duplicate
    gateways.add(bare);
    known.add(n);
    lines.push(`net ${n} ${gw}${typeof spec === 'object' && spec.internal ? ' internal' : ''}`);
  }
  const a: [string, string, string][] = [];
  const ptr: [string, string, string][] = [];
  const states = new Map<string, string>();
  for (const c of Object.values(state.containers)) {
    for (const [net, ep] of Object.entries(c.networks)) {
      if (!known.has(net)) continue;
      // The ptr lines carry the container's own (host-unique) name on purpose: tsstack-dns groups
      // them by name to know a container's networks from its source address (records_view), and
      // ties them (and the a lines of their addresses) to the container's state line.
      const own = normName(c.name);
      for (const addr of [ep.address, ep.ipv6Address].map((x) => (x ? bareAddress(x) : undefined))) {
        if (!addr) continue;
        for (const name of containerNames(c, net)) a.push([net, name, addr]);
        if (isRecordName(own)) {
          ptr.push([net, addr, own]);
          if (c.stateFile && isStateFilePath(c.stateFile)) states.set(own, c.stateFile);
        }
      }
    }
  }
  const byFields = (x: string[], y: string[]): number => cmp(x[0], y[0]) || cmp(x[1], y[1]) || cmp(x[2], y[2]);
  for (const [net, name, addr] of a.sort(byFields)) lines.push(`a ${net} ${name} ${addr}`);
  for (const [net, addr, name] of ptr.sort(byFields)) lines.push(`ptr ${net} ${addr} ${name}`);
  for (const name of [...states.keys()].sort(cmp)) lines.push(`state ${name} ${states.get(name)}`);
  return lines.join('\n') + '\n';
}
