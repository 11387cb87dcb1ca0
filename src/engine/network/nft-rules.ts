// The tsstack nftables table as data. Pure: state in, objects out.
//
// The whole table is rendered from the engine's state (level-based), so a
// second sync with the same state is a no-op and a crash mid-way is repaired by
// the next sync; port changes alone are applied as element batches. Published
// ports live in maps, so a packet costs a fixed number of lookups whatever the
// number of ports:
//   ip_addr / ip_port:   ip daddr . l4proto . dport → container addr / port  (`127.0.0.1:8080:80`)
//   any_addr / any_port: l4proto . dport → container addr / port             (`8080:80`, every local address)
// Address and port are two maps rather than one `addr . port` map because
// libnftables' JSON parser (1.0.6, Debian 12) cannot declare concatenated map data.
// The objects have the shape `nft -j list table` prints, so what exists can be
// compared with what is wanted; `toBatch` turns them into `add` commands.

import type { NftCommand } from './nft.js';
import type { PortBinding } from '../api.js';
import { byCodeUnits } from '../../util/compare.js';

export const FAMILY = 'inet';
/** The table of the default root; other roots get `tsstack_<hash>` (see tableFor in manager.ts). */
export const TABLE = 'tsstack';

export interface FwNetwork {
  name: string;
  bridge: string;
  /** `10.89.0.0/24` */
  subnet: string;
  internal: boolean;
}

/** A published port as the maps hold it (`hostIp` undefined, `0.0.0.0` or `::` = every local address). */
export type FwPort = PortBinding;

type Obj = Record<string, any>;
type Expr = Record<string, unknown>;


interface Base {
  family: string;
  table: string;
}

function prefix(cidr: string): Expr {
  const [addr, len] = cidr.split('/');
  return { prefix: { addr, len: Number(len) } };
}
const ip = (field: 'saddr' | 'daddr') => ({ payload: { protocol: 'ip', field } });
const meta = (key: string) => ({ meta: { key } });
const eq = (left: unknown, right: unknown) => ({ match: { op: '==', left, right } });
const ne = (left: unknown, right: unknown) => ({ match: { op: '!=', left, right } });
const isIn = (left: unknown, right: unknown) => ({ match: { op: 'in', left, right } });
const rule = (b: Base, chain: string, expr: Expr[]): Obj => ({ rule: { ...b, chain, expr } });

export function isAnyHost(hostIp?: string): boolean {
  return hostIp === undefined || hostIp === '' || hostIp === '0.0.0.0' || hostIp === '::';
}

const dport = { payload: { protocol: 'th', field: 'dport' } };
const isLocal = eq({ fib: { result: 'type', flags: ['daddr'] } }, 'local');

// ip daddr @subnets meta l4proto { tcp, udp } th dport 53 return
// (a local address inside a tsstack subnet is a gateway, where the embedded DNS server answers the
// containers: a stack publishing port 53 must not capture their queries; put before the DNAT rules)
function keepGatewayDns(b: Base, chain: string): Obj {
  return rule(b, chain, [eq(ip('daddr'), '@subnets'), eq(meta('l4proto'), { set: ['tcp', 'udp'] }), eq(dport, 53), { return: null }]);
}

// fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @ip_addr : ip daddr . meta l4proto . th dport map @ip_port
function dnatHostIp(b: Base, chain: string): Obj {
  const key = { concat: [ip('daddr'), meta('l4proto'), dport] };
  return rule(b, chain, [isLocal, { dnat: { family: 'ip', addr: { map: { key, data: '@ip_addr' } }, port: { map: { key, data: '@ip_port' } } } }]);
}

// fib daddr type local dnat ip to meta l4proto . th dport map @any_addr : meta l4proto . th dport map @any_port
function dnatAnyIp(b: Base, chain: string): Obj {
  const key = { concat: [meta('l4proto'), dport] };
  return rule(b, chain, [isLocal, { dnat: { family: 'ip', addr: { map: { key, data: '@any_addr' } }, port: { map: { key, data: '@any_port' } } } }]);
}

// ip saddr 127.0.0.0/8 ip daddr @subnets masquerade
// (the host reaching a published port on 127.0.0.1: the container must not answer to its own loopback)
function masqueradeLoopback(b: Base): Obj {
  return rule(b, 'postrouting', [eq(ip('saddr'), prefix('127.0.0.0/8')), eq(ip('daddr'), '@subnets'), { masquerade: null }]);
}

// ct status dnat ip saddr 10.89.0.0/24 ip daddr 10.89.0.0/24 masquerade
// (hairpin: a container reaching a published port that leads back into its own subnet)
function masqueradeHairpin(b: Base, n: FwNetwork): Obj {
  return rule(b, 'postrouting', [isIn({ ct: { key: 'status' } }, 'dnat'), eq(ip('saddr'), prefix(n.subnet)), eq(ip('daddr'), prefix(n.subnet)), { masquerade: null }]);
}

// ip saddr 10.89.0.0/24 oifname != "tss-xxxx" masquerade
function masqueradeEgress(b: Base, n: FwNetwork): Obj {
  return rule(b, 'postrouting', [eq(ip('saddr'), prefix(n.subnet)), ne(meta('oifname'), n.bridge), { masquerade: null }]);
}

// iifname "tss-xxxx" oifname != "tss-xxxx" drop
function internalNoEgress(b: Base, n: FwNetwork): Obj {
  return rule(b, 'forward', [eq(meta('iifname'), n.bridge), ne(meta('oifname'), n.bridge), { drop: null }]);
}

// oifname "tss-xxxx" iifname != "tss-xxxx" drop
function internalNoIngress(b: Base, n: FwNetwork): Obj {
  return rule(b, 'forward', [eq(meta('oifname'), n.bridge), ne(meta('iifname'), n.bridge), { drop: null }]);
}

// ct state established,related accept
function acceptEstablished(b: Base): Obj {
  return rule(b, 'forward', [isIn({ ct: { key: 'state' } }, ['established', 'related']), { accept: null }]);
}

// ct status dnat accept
// (published ports are reachable from every network and from outside)
function acceptDnat(b: Base): Obj {
  return rule(b, 'forward', [isIn({ ct: { key: 'status' } }, 'dnat'), { accept: null }]);
}

// iifname "tss-xxxx" oifname != "tss-xxxx" oifname @bridges drop
// (no traffic from one tsstack network into another)
function isolate(b: Base, n: FwNetwork): Obj {
  return rule(b, 'forward', [eq(meta('iifname'), n.bridge), ne(meta('oifname'), n.bridge), eq(meta('oifname'), '@bridges'), { drop: null }]);
}

// iifname @bridges ip daddr 127.0.0.0/8 ct status & dnat != dnat drop
// (our bridges accept loopback addresses, for the 127.0.0.1 → published port path;
// a container must still not reach the host's localhost services by sending to 127/8)
function guardLocalhost(b: Base): Obj {
  return rule(b, 'input', [
    eq(meta('iifname'), '@bridges'),
    eq(ip('daddr'), prefix('127.0.0.0/8')),
    ne({ '&': [{ ct: { key: 'status' } }, 'dnat'] }, 'dnat'),
    { drop: null },
  ]);
}

// chain <name> { type <nat|filter> hook <hook> priority <prio>; policy accept; }
// (accept: tsstack only drops what its own rules name; other tables keep their say)
function chain(b: Base, name: string, type: 'nat' | 'filter', hook: string, prio: number): Obj {
  return { chain: { ...b, name, type, hook, prio, policy: 'accept' } };
}

/** A port's order: any-host ports first (a space sorts before any address), then by address, protocol and port. */
function portKey(p: FwPort): string {
  return `${isAnyHost(p.hostIp) ? '' : p.hostIp} ${p.protocol} ${String(p.hostPort).padStart(5, '0')}`;
}

/** Every object of the table, in the order they must be added. Deterministic. */
export function buildTable(networks: FwNetwork[], ports: FwPort[], table = TABLE): Obj[] {
  const base: Base = { family: FAMILY, table };
  const nets = [...networks].sort((a, b) => byCodeUnits(a.name, b.name));
  const sorted = [...ports].sort((a, b) => byCodeUnits(portKey(a), portKey(b)));
  const byIp = sorted.filter((p) => !isAnyHost(p.hostIp));
  const any = sorted.filter((p) => isAnyHost(p.hostIp));

  // set subnets { type ipv4_addr; flags interval; elements = { 10.89.0.0/24, … } }
  const subnets: Obj = { set: { ...base, name: 'subnets', type: 'ipv4_addr', flags: ['interval'] } };
  if (nets.length) subnets.set.elem = nets.map((n) => prefix(n.subnet));
  // set bridges { type ifname; elements = { "tss-xxxx", … } }
  const bridges: Obj = { set: { ...base, name: 'bridges', type: 'ifname' } };
  if (nets.length) bridges.set.elem = nets.map((n) => n.bridge);
  const ipKey = ['ipv4_addr', 'inet_proto', 'inet_service'];
  const anyKey = ['inet_proto', 'inet_service'];
  const map = (name: string, type: string[], data: string, elem: unknown[]): Obj => {
    const m: Obj = { map: { ...base, name, type, map: data } };
    if (elem.length) m.map.elem = elem;
    return m;
  };
  // map ip_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr; elements = { 127.0.0.1 . tcp . 8080 : 10.89.0.2 } }
  // map ip_port { type ipv4_addr . inet_proto . inet_service : inet_service; elements = { 127.0.0.1 . tcp . 8080 : 80 } }
  // map any_addr { type inet_proto . inet_service : ipv4_addr; elements = { tcp . 8080 : 10.89.0.2 } }
  // map any_port { type inet_proto . inet_service : inet_service; elements = { tcp . 8080 : 80 } }
  const ipAddr = map('ip_addr', ipKey, 'ipv4_addr', byIp.map((p) => [{ concat: [p.hostIp, p.protocol, p.hostPort] }, p.address]));
  const ipPort = map('ip_port', ipKey, 'inet_service', byIp.map((p) => [{ concat: [p.hostIp, p.protocol, p.hostPort] }, p.containerPort]));
  const anyAddr = map('any_addr', anyKey, 'ipv4_addr', any.map((p) => [{ concat: [p.protocol, p.hostPort] }, p.address]));
  const anyPort = map('any_port', anyKey, 'inet_service', any.map((p) => [{ concat: [p.protocol, p.hostPort] }, p.containerPort]));

  return [
    { table: { family: FAMILY, name: table } },
    subnets,
    bridges,
    ipAddr,
    ipPort,
    anyAddr,
    anyPort,
    chain(base, 'prerouting', 'nat', 'prerouting', -100),
    chain(base, 'output', 'nat', 'output', -100),
    chain(base, 'postrouting', 'nat', 'postrouting', 100),
    chain(base, 'forward', 'filter', 'forward', 0),
    chain(base, 'input', 'filter', 'input', 0),
    keepGatewayDns(base, 'prerouting'),
    dnatHostIp(base, 'prerouting'),
    dnatAnyIp(base, 'prerouting'),
    keepGatewayDns(base, 'output'),
    dnatHostIp(base, 'output'),
    dnatAnyIp(base, 'output'),
    masqueradeLoopback(base),
    ...nets.map((n) => masqueradeHairpin(base, n)),
    ...nets.filter((n) => !n.internal).map((n) => masqueradeEgress(base, n)),
    ...nets.filter((n) => n.internal).flatMap((n) => [internalNoEgress(base, n), internalNoIngress(base, n)]),
    acceptEstablished(base),
    acceptDnat(base),
    ...nets.map((n) => isolate(base, n)),
    guardLocalhost(base),
  ];
}

/**
 * One atomic batch that makes the table exactly `objs`: the table is created if
 * missing, then deleted and re-added within the same transaction, so no packet
 * ever sees a half-built table.
 */
export function toBatch(objs: Obj[]): NftCommand[] {
  const table = { table: objs[0]!.table as { family: string; name: string } };
  return [{ add: table }, { delete: table }, ...objs.map((o) => ({ add: o }))];
}

function elemKey(p: FwPort): unknown {
  return isAnyHost(p.hostIp) ? { concat: [p.protocol, p.hostPort] } : { concat: [p.hostIp, p.protocol, p.hostPort] };
}

/**
 * One batch that moves published ports in place, without rebuilding the table:
 *   delete element inet tsstack any_addr { tcp . 8080 }   (and any_port, ip_addr, ip_port alike)
 *   add element inet tsstack any_addr { tcp . 8080 : 10.89.0.2 }
 * Deletes come first, so a port that moves between containers is re-added.
 */
export function portElementsBatch(removed: FwPort[], added: FwPort[], table = TABLE): NftCommand[] {
  const out: NftCommand[] = [];
  const maps = (p: FwPort) => (isAnyHost(p.hostIp) ? ['any_addr', 'any_port'] : ['ip_addr', 'ip_port']);
  for (const p of [...removed].sort((a, b) => byCodeUnits(portKey(a), portKey(b)))) {
    for (const name of maps(p)) out.push({ delete: { element: { family: FAMILY, table, name, elem: [elemKey(p)] } } });
  }
  for (const p of [...added].sort((a, b) => byCodeUnits(portKey(a), portKey(b)))) {
    const [addrMap, portMap] = maps(p) as [string, string];
    out.push({ add: { element: { family: FAMILY, table, name: addrMap, elem: [[elemKey(p), p.address]] } } });
    out.push({ add: { element: { family: FAMILY, table, name: portMap, elem: [[elemKey(p), p.containerPort]] } } });
  }
  return out;
}

/** The batch that removes the table (when the last network goes). */
export function deleteBatch(table = TABLE): NftCommand[] {
  return [{ delete: { table: { family: FAMILY, name: table } } }];
}

/** A comparable text of a table listing or of `buildTable` output: handles dropped, element order ignored. */
export function canonical(objs: Obj[]): string {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) {
        if (k === 'handle' || k === 'metainfo') continue;
        out[k] = norm((v as Record<string, unknown>)[k]);
      }
      return out;
    }
    return v;
  };
  const lines = objs
    .filter((o) => !('metainfo' in o))
    .map((o) => {
      const c = norm(o) as Record<string, any>;
      const inner = c.set ?? c.map;
      if (inner) {
        if (Array.isArray(inner.type) && inner.type.length === 1) inner.type = inner.type[0];
        if (Array.isArray(inner.elem)) inner.elem = inner.elem.map((e: unknown) => JSON.stringify(e)).sort();
      }
      return JSON.stringify(c);
    });
  return lines.join('\n');
}
