// Links, addresses and routes over rtnetlink (raw-rtnl.ts: a raw socket through koffi; the
// `netlink` package it replaced cost ~45 ms of start-up at every command touching a link). Every
// function works on the namespace the given socket was opened in, so the same code serves the
// engine's namespace and a sandbox (ns-enter.ts opens the socket there).

import { IFLA_ADDRESS, IFLA_IFNAME, bridgePortHairpinInfo, linkInfo, macToBuffer, nla, nlaString, nlaU32, vethLinkInfo } from './nla.js';
import { attributes, dump, ifinfo, openSocket, parseLinkDump, request, requestOffThread, type LinkFact, type RtnlSocket } from './raw-rtnl.js';

/** The socket type of these functions (raw-rtnl.ts); the name the network code has used for it. */
export type RtNetlinkSocket = RtnlSocket;

const AF_INET = 2;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const IFF_UP = 1;
// linux/rtnetlink.h, if_link.h, if_addr.h, netlink.h
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_SETLINK = 19;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_GROUP = 27;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const CREATE = NLM_F_CREATE | NLM_F_EXCL;

/** An rtnetlink socket in the calling thread's network namespace. */
export function openRtnl(): RtNetlinkSocket {
  return openSocket();
}

/** Kept for the callers that reopen a socket whose receive failed: a raw socket's failures are thrown by the call. */
export function rtnlFailed(_s: RtNetlinkSocket): boolean {
  return false;
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

/** A dump's link as the network code sees it. */
export const linkSummary = (l: LinkFact): LinkSummary => ({ index: l.index, name: l.name, kind: l.kind, master: l.master, up: l.up, group: l.group ?? 0 });

export async function listLinks(s: RtNetlinkSocket): Promise<LinkSummary[]> {
  const out: LinkFact[] = [];
  for (const m of dump(s, RTM_GETLINK, ifinfo(0))) {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(16 + m.payload.length, 0);
    h.writeUInt16LE(m.type, 4);
    parseLinkDump(Buffer.concat([h, m.payload]), out);
  }
  return out.map(linkSummary).sort((a, b) => a.index - b.index);
}

/**
 * A bridge with a fixed MAC. Without one, Linux gives a bridge the lowest MAC
 * among its ports, so the gateway's MAC changes whenever a container joins and
 * containers that cached the old one lose their gateway (DNS, egress).
 */
export async function createBridge(s: RtNetlinkSocket, name: string, mac: string): Promise<void> {
  request(s, RTM_NEWLINK, CREATE, ifinfo(0, [nlaString(IFLA_IFNAME, name), nla(IFLA_ADDRESS, macToBuffer(mac)), nla(IFLA_LINKINFO, linkInfo('bridge'))]));
}

/**
 * A veth pair: `hostName` here (enslaved to `master`), `peerName` created inside the namespace open as
 * `peerNsFd`. The host end comes up at creation (IFF_UP in its ifinfomsg), which saves a request; the
 * peer cannot (the kernel opens it before the pair is joined, and a veth without its peer refuses
 * with ENOTCONN), so it is brought up inside the sandbox.
 */
export async function createVeth(_s: RtNetlinkSocket, hostName: string, peerName: string, peerMac: string, peerNsFd: number, master: number): Promise<void> {
  // the kernel makes the pair inside send(): on the thread pool (raw-rtnl.ts requestOffThread)
  await requestOffThread(RTM_NEWLINK, CREATE, ifinfo(0, [nlaString(IFLA_IFNAME, hostName), nlaU32(IFLA_MASTER, master), nla(IFLA_LINKINFO, vethLinkInfo(peerName, macToBuffer(peerMac), peerNsFd))], IFF_UP, IFF_UP));
}

/** Hairpin mode on a bridge port (RTM_NEWLINK on the existing link, as `ip link set … type bridge_slave hairpin on`). */
export async function setHairpin(s: RtNetlinkSocket, index: number): Promise<void> {
  request(s, RTM_NEWLINK, 0, ifinfo(index, [nla(IFLA_LINKINFO, bridgePortHairpinInfo())]));
}

/** Enslaves a link to a bridge (`ip link set … master BR`): a veth left behind by a bridge that was deleted. */
export async function setMaster(s: RtNetlinkSocket, index: number, master: number): Promise<void> {
  request(s, RTM_SETLINK, 0, ifinfo(index, [nlaU32(IFLA_MASTER, master)]));
}

export async function setUp(s: RtNetlinkSocket, index: number): Promise<void> {
  request(s, RTM_SETLINK, 0, ifinfo(index, [], IFF_UP, IFF_UP));
}

export async function deleteLink(s: RtNetlinkSocket, index: number): Promise<void> {
  request(s, RTM_DELLINK, 0, ifinfo(index));
}

/**
 * Deletes several links in one kernel operation: each is put in device group
 * `group` (which must be unused here), then one RTM_DELLINK names the group.
 * The kernel unregisters them as one batch, paying its RCU grace periods once
 * instead of once per link (a veth pair costs ~20 ms alone on a busy host).
 * A veth takes its peer with it, also inside another namespace.
 */
export async function deleteLinksAsGroup(s: RtNetlinkSocket, indices: number[], group: number): Promise<void> {
  for (const index of indices) request(s, RTM_SETLINK, 0, ifinfo(index, [nlaU32(IFLA_GROUP, group)]));
  request(s, RTM_DELLINK, 0, ifinfo(0, [nlaU32(IFLA_GROUP, group)]));
}

function ipBuf(addr: string): Buffer {
  return Buffer.from(addr.split('.').map(Number));
}

/** struct ifaddrmsg: family, prefix length, flags, scope, index. */
function ifaddr(index: number, prefixLen: number, attrs: Buffer[] = []): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt32LE(index, 4);
  return Buffer.concat([b, ...attrs]);
}

export async function addAddress(s: RtNetlinkSocket, index: number, addr: string, prefixLen: number, broadcast?: string): Promise<void> {
  const attrs = [nla(IFA_LOCAL, ipBuf(addr)), nla(IFA_ADDRESS, ipBuf(addr))];
  if (broadcast) attrs.push(nla(IFA_BROADCAST, ipBuf(broadcast)));
  request(s, RTM_NEWADDR, CREATE, ifaddr(index, prefixLen, attrs));
}

export async function listAddresses(s: RtNetlinkSocket): Promise<{ index: number; address: string; prefixLen: number }[]> {
  const out: { index: number; address: string; prefixLen: number }[] = [];
  for (const m of dump(s, RTM_GETADDR, ifaddr(0, 0))) {
    if (m.payload.length < 8 || m.payload.readUInt8(0) !== AF_INET) continue;
    const local = attributes(m.payload, 8).get(IFA_LOCAL);
    if (local?.length === 4) out.push({ index: m.payload.readUInt32LE(4), address: [...local].join('.'), prefixLen: m.payload.readUInt8(1) });
  }
  return out;
}

/** struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32). */
function rtmsg(dstLen: number, table: number, protocol: number, type: number, attrs: Buffer[] = []): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(table, 4);
  b.writeUInt8(protocol, 5);
  b.writeUInt8(type, 7); // scope 0: universe
  return Buffer.concat([b, ...attrs]);
}

export async function addDefaultRoute(s: RtNetlinkSocket, gateway: string, oif: number): Promise<void> {
  request(s, RTM_NEWROUTE, CREATE, rtmsg(0, RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST, [nla(RTA_GATEWAY, ipBuf(gateway)), nlaU32(RTA_OIF, oif)]));
}

export interface RouteSummary {
  dst: string;
  dstLen: number;
  oif?: number;
}

/** IPv4 unicast routes of the main table (what the host already reaches). */
export async function listRoutes(s: RtNetlinkSocket): Promise<RouteSummary[]> {
  const out: RouteSummary[] = [];
  for (const m of dump(s, RTM_GETROUTE, rtmsg(0, 0, 0, 0))) {
    const p = m.payload;
    if (p.length < 12 || p.readUInt8(0) !== AF_INET || p.readUInt8(7) !== RTN_UNICAST) continue;
    const a = attributes(p, 12);
    const table = a.get(RTA_TABLE)?.readUInt32LE(0) ?? p.readUInt8(4);
    if (table !== RT_TABLE_MAIN) continue;
    const dst = a.get(RTA_DST);
    out.push({ dst: dst ? [...dst].join('.') : '0.0.0.0', dstLen: p.readUInt8(1), oif: a.get(RTA_OIF)?.readUInt32LE(0) });
  }
  return out;
}
