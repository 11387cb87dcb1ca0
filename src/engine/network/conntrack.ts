// Forgetting NAT bindings: when a published port goes away or moves to another
// container, connection-tracking entries made for it would keep sending
// packets of live flows (UDP above all: each packet refreshes the entry) to
// the old address. This deletes the DNAT'd entries that lead to given
// addresses, over ctnetlink (netfilter netlink, package `netlink`), in the
// calling thread's namespace.

import { readFileSync } from 'node:fs';
import { cjsRequire } from '../../util/cjs-require.js';
import { nlaNested } from './nla.js';

// the package's parts (not its index: rtnl.ts says why), loaded when a table has entries to look at
const pkg = (load = cjsRequire(import.meta.url)) => ({
  ...(load('netlink/dist/constants.js') as typeof import('netlink/dist/constants.js')),
  ...(load('netlink/dist/netlink.js') as typeof import('netlink/dist/netlink.js')),
  ...(load('netlink/dist/structs.js') as typeof import('netlink/dist/structs.js')),
});

const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_TUPLE_IP = 1;
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_TUPLE_PROTO = 2;
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const AF_INET = 2;
const TIMEOUT = 10_000;

/** struct nfgenmsg: family, version 0, resource id 0. */
function nfgenmsg(): Buffer {
  return Buffer.from([AF_INET, 0, 0, 0]);
}

function attrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  pkg().parseAttributes(buf, (a) => out.set(a.type & 0x3fff, a.data));
  return out;
}

function v4(tuple: Buffer | undefined, which: number): string | undefined {
  const ip = tuple && attrs(tuple).get(CTA_TUPLE_IP);
  const a = ip && attrs(ip).get(which);
  return a && a.length === 4 ? [...a].join('.') : undefined;
}

function proto(tuple: Buffer | undefined): { protocol?: string; srcPort?: number } {
  const p = tuple && attrs(tuple).get(CTA_TUPLE_PROTO);
  if (!p) return {};
  const a = attrs(p);
  const num = a.get(CTA_PROTO_NUM);
  const port = a.get(CTA_PROTO_SRC_PORT);
  return { protocol: num ? (PROTO_NAMES[num[0]!] ?? String(num[0])) : undefined, srcPort: port && port.length >= 2 ? port.readUInt16BE(0) : undefined };
}

export interface CtEntry {
  /** Where the first packet was sent (the published address). */
  origDst?: string;
  /** Who answers (the container, when the entry was DNAT'd), from which port. */
  replySrc?: string;
  replySrcPort?: number;
  protocol?: string;
  /** The original-direction tuple as the kernel gave it, to name the entry in a delete. */
  origTuple?: Buffer;
}

/** One ctnetlink entry's payload (nfgenmsg + attributes). Pure. */
export function parseCtEntry(data: Buffer): CtEntry {
  const a = attrs(data.subarray(4));
  const orig = a.get(CTA_TUPLE_ORIG);
  const reply = a.get(CTA_TUPLE_REPLY);
  const p = proto(reply);
  return { origDst: v4(orig, CTA_IP_V4_DST), replySrc: v4(reply, CTA_IP_V4_SRC), replySrcPort: p.srcPort, protocol: p.protocol, origTuple: orig };
}

/** A container address, optionally narrowed to one port and protocol. */
export interface DnatTarget {
  address: string;
  port?: number;
  protocol?: string;
}

/** Entries destination-NATed to one of the targets. Pure. */
export function dnatTo(entries: CtEntry[], targets: DnatTarget[]): CtEntry[] {
  return entries.filter(
    (e) =>
      e.replySrc &&
      e.origTuple &&
      e.origDst !== e.replySrc &&
      targets.some((t) => t.address === e.replySrc && (t.port === undefined || t.port === e.replySrcPort) && (t.protocol === undefined || t.protocol === e.protocol)),
  );
}

/**
 * Entries in this namespace's table (the per-namespace sysctl), undefined when it
 * cannot be read. Zero spares the dump: a dump of even an empty table costs a
 * socket and a few ms, once per removed container.
 */
export function trackedConnections(path = '/proc/sys/net/netfilter/nf_conntrack_count'): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Deletes the entries DNAT'd to the targets; returns how many went. Entries that vanish meanwhile are fine. */
export async function forgetDnat(targets: DnatTarget[]): Promise<number> {
  if (targets.length === 0 || trackedConnections() === 0) return 0;
  const { FlagsGet, Protocol, createNetlink } = pkg();
  const s = createNetlink(Protocol.NETFILTER);
  s.on('error', () => undefined); // a failed request rejects on its own
  try {
    const [msgs] = await s.request((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, nfgenmsg(), { flags: FlagsGet.DUMP, timeout: TIMEOUT });
    const doomed = dnatTo(msgs.filter((m) => m.data.length > 4).map((m) => parseCtEntry(m.data)), targets);
    let n = 0;
    for (const e of doomed) {
      try {
        await s.request((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, [nfgenmsg(), nlaNested(CTA_TUPLE_ORIG, e.origTuple!)], { timeout: TIMEOUT });
        n++;
      } catch (err) {
        if (!/ENOENT/.test(String(err))) throw err;
      }
    }
    return n;
  } finally {
    s.close();
  }
}
