// Links, addresses and routes over rtnetlink (package `netlink`). Every
// function works on the namespace the given socket was created in, so the same
// code serves the engine's namespace (main thread) and a sandbox (worker thread).

// The package is loaded with the first socket (commands that only remove links use raw-rtnl.ts
// and never load it), and as its parts, not its index: the index also loads its nl80211, genl and
// WireGuard definitions, ~40 ms of start-up for nothing.
import { createRequire } from 'node:module';
import type { RtNetlinkSocket } from 'netlink/dist/rt/rt.js';
import { IFLA_INFO_KIND, bridgePortHairpinInfo, linkInfo, macToBuffer, vethLinkInfo } from './nla.js';

export type { RtNetlinkSocket };

const load = createRequire(import.meta.url);
const netlink = () => load('netlink/dist/rt/rt.js') as typeof import('netlink/dist/rt/rt.js');
const parseAttributes: typeof import('netlink/dist/structs.js').parseAttributes = (b, f) => (load('netlink/dist/structs.js') as typeof import('netlink/dist/structs.js')).parseAttributes(b, f);

const AF_INET = 2;
const RT_TABLE_MAIN = 254;
const CREATE = 0x400 | 0x200; // NLM_F_CREATE | NLM_F_EXCL
/** No kernel answer within this time is a failure, never a hang. */
const TIMEOUT = 10_000;
const T = { timeout: TIMEOUT };
const C = { flags: CREATE, timeout: TIMEOUT };

/**
 * An rtnetlink socket in the calling thread's network namespace. A receive
 * error (e.g. ENOBUFS) is recorded rather than thrown from the event emitter:
 * the pending request then times out and the caller makes a new socket.
 */
export function openRtnl(): RtNetlinkSocket {
  const s = netlink().createRtNetlink();
  s.socket.on('error', () => {
    (s as RtNetlinkSocket & { failed?: boolean }).failed = true;
  });
  return s;
}

export function rtnlFailed(s: RtNetlinkSocket): boolean {
  return !!(s as RtNetlinkSocket & { failed?: boolean }).failed;
}

export interface LinkSummary {
  index: number;
  name: string;
  kind?: string;
  master?: number;
  up: boolean;
  /** Device group (IFLA_GROUP), 0 by default. */
  group: number;
}

function kindOf(linkinfo: Buffer | undefined): string | undefined {
  if (!linkinfo) return undefined;
  let kind: string | undefined;
  parseAttributes(linkinfo, (a) => {
    if ((a.type & 0x3fff) === IFLA_INFO_KIND) kind = a.data.toString('utf8').replace(/\0+$/, '');
  });
  return kind;
}

export async function listLinks(s: RtNetlinkSocket): Promise<LinkSummary[]> {
  const links = await s.getLinks(undefined, undefined, T);
  return links
    .map((l) => ({ index: l.data.index ?? 0, name: l.attrs.ifname ?? '', kind: kindOf(l.attrs.linkinfo), master: l.attrs.master, up: !!l.data.flags?.up, group: l.attrs.group ?? 0 }))
    .sort((a, b) => a.index - b.index);
}

export async function linkByName(s: RtNetlinkSocket, name: string): Promise<LinkSummary | undefined> {
  return (await listLinks(s)).find((l) => l.name === name);
}

/**
 * A bridge with a fixed MAC. Without one, Linux gives a bridge the lowest MAC
 * among its ports, so the gateway's MAC changes whenever a container joins and
 * containers that cached the old one lose their gateway (DNS, egress).
 */
export async function createBridge(s: RtNetlinkSocket, name: string, mac: string): Promise<void> {
  await s.newLink({}, { ifname: name, address: macToBuffer(mac), linkinfo: linkInfo('bridge') }, C);
}

/** A veth pair: `hostName` here (enslaved to `master`), `peerName` created inside the namespace open as `peerNsFd`. */
export async function createVeth(s: RtNetlinkSocket, hostName: string, peerName: string, peerMac: string, peerNsFd: number, master: number): Promise<void> {
  await s.newLink({}, { ifname: hostName, master, linkinfo: vethLinkInfo(peerName, macToBuffer(peerMac), peerNsFd) }, C);
}

/** Hairpin mode on a bridge port (RTM_NEWLINK on the existing link, as `ip link set … type bridge_slave hairpin on`). */
export async function setHairpin(s: RtNetlinkSocket, index: number): Promise<void> {
  await s.newLink({ index }, { linkinfo: bridgePortHairpinInfo() }, T);
}

/** Enslaves a link to a bridge (`ip link set … master BR`): a veth left behind by a bridge that was deleted. */
export async function setMaster(s: RtNetlinkSocket, index: number, master: number): Promise<void> {
  await s.setLink({ index }, { master }, T);
}

export async function setUp(s: RtNetlinkSocket, index: number): Promise<void> {
  await s.setLink({ index, change: { up: true }, flags: { up: true } }, undefined, T);
}

export async function deleteLink(s: RtNetlinkSocket, index: number): Promise<void> {
  await s.delLink({ index }, undefined, T);
}

/**
 * Deletes several links in one kernel operation: each is put in device group
 * `group` (which must be unused here), then one RTM_DELLINK names the group.
 * The kernel unregisters them as one batch, paying its RCU grace periods once
 * instead of once per link (a veth pair costs ~20 ms alone on a busy host).
 * A veth takes its peer with it, also inside another namespace.
 */
export async function deleteLinksAsGroup(s: RtNetlinkSocket, indices: number[], group: number): Promise<void> {
  for (const index of indices) await s.setLink({ index }, { group }, T);
  await s.delLink({}, { group }, T);
}

function ipBuf(addr: string): Buffer {
  return Buffer.from(addr.split('.').map(Number));
}

export async function addAddress(s: RtNetlinkSocket, index: number, addr: string, prefixLen: number, broadcast?: string): Promise<void> {
  const attrs: { local: Buffer; address: Buffer; broadcast?: Buffer } = { local: ipBuf(addr), address: ipBuf(addr) };
  if (broadcast) attrs.broadcast = ipBuf(broadcast);
  await s.newAddress({ family: AF_INET, prefixlen: prefixLen, index, scope: 0 }, attrs, C);
}

export async function listAddresses(s: RtNetlinkSocket): Promise<{ index: number; address: string; prefixLen: number }[]> {
  const out = await s.getAddresses(undefined, undefined, T);
  return out
    .filter((a) => a.data.family === AF_INET && a.attrs.local)
    .map((a) => ({ index: a.data.index ?? 0, address: [...a.attrs.local!].join('.'), prefixLen: a.data.prefixlen ?? 32 }));
}

export async function addDefaultRoute(s: RtNetlinkSocket, gateway: string, oif: number): Promise<void> {
  await s.newRoute(
    { family: AF_INET, dstLen: 0, table: RT_TABLE_MAIN, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST' },
    { gateway: ipBuf(gateway), oif },
    C,
  );
}

export interface RouteSummary {
  dst: string;
  dstLen: number;
  oif?: number;
}

/** IPv4 unicast routes of the main table (what the host already reaches). */
export async function listRoutes(s: RtNetlinkSocket): Promise<RouteSummary[]> {
  const routes = await s.getRoutes(undefined, undefined, T);
  return routes
    .filter((r) => r.data.family === AF_INET && (r.data.table === RT_TABLE_MAIN || r.attrs.table === RT_TABLE_MAIN) && (r.data.type === 'UNICAST' || r.data.type === 1))
    .map((r) => ({ dst: r.attrs.dst ? [...r.attrs.dst].join('.') : '0.0.0.0', dstLen: r.data.dstLen ?? 0, oif: r.attrs.oif }));
}
